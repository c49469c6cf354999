// Policy: from the configured mode, per-rule overrides and the allow list to the
// action taken for one finding.  Pure C++, no PostgreSQL calls.
#pragma once

#include "policy/rules.hpp"

namespace schema_guard::policy {

struct RuleOverrides {
  bool set[kRuleCount];
  Action action[kRuleCount];
};

struct AllowList {
  bool allowed[kRuleCount];
};

struct Settings {
  Action mode;                     // schema_guard.mode
  const RuleOverrides *overrides;  // schema_guard.rules, may be null
  const AllowList *allow;          // schema_guard.allow, may be null
};

// The rule's action before the allow list: default or override, capped by the mode.
// lock_wait_bounded: the statement runs with a lock_timeout, which turns the default
// of lock_conflict from block into warn.
Action ConfiguredAction(const Settings &s, RuleId rule, bool lock_wait_bounded);

inline bool IsAllowed(const Settings &s, RuleId rule) {
  return s.allow != nullptr && s.allow->allowed[RuleIndex(rule)];
}

// Parse "name:action" into rule and action; false when either is unknown.
bool ParseOverride(const char *item, RuleId *rule, Action *action);
bool ParseAction(const char *text, Action *action);

}  // namespace schema_guard::policy
