#include "policy/decide.hpp"

#include <cstring>

#include "cpp_only.hpp"

namespace schema_guard::policy {

Action ConfiguredAction(const Settings &s, RuleId rule, bool lock_wait_bounded) {
  if (s.mode == Action::Off) return Action::Off;
  const size_t i = RuleIndex(rule);
  Action action = Rule(rule).default_action;
  if (s.overrides != nullptr && s.overrides->set[i])
    action = s.overrides->action[i];
  else if (rule == RuleId::LockConflict && lock_wait_bounded)
    action = Action::Warn;
  if (s.mode == Action::Warn && action == Action::Block) action = Action::Warn;
  return action;
}

bool ParseAction(const char *text, Action *action) {
  if (std::strcmp(text, "off") == 0) *action = Action::Off;
  else if (std::strcmp(text, "warn") == 0) *action = Action::Warn;
  else if (std::strcmp(text, "block") == 0) *action = Action::Block;
  else return false;
  return true;
}

bool ParseOverride(const char *item, RuleId *rule, Action *action) {
  const char *sep = std::strchr(item, ':');
  if (sep == nullptr) sep = std::strchr(item, '=');
  if (sep == nullptr) return false;
  char name[64];
  const size_t len = static_cast<size_t>(sep - item);
  if (len == 0 || len >= sizeof name) return false;
  std::memcpy(name, item, len);
  name[len] = '\0';
  const RuleInfo *info = RuleByName(name);
  if (info == nullptr || !ParseAction(sep + 1, action)) return false;
  *rule = info->id;
  return true;
}

}  // namespace schema_guard::policy
