#include "glue/activation.hpp"

#include "pg.hpp"

namespace schema_guard::activation {
namespace {

enum class Cached { Unknown, Installed, Absent };

LoadMethod load_method = LoadMethod::OnDemand;
Cached installed = Cached::Unknown;

// CREATE / DROP EXTENSION create or drop our schema and functions; their cache
// invalidations (sent to every backend) reset the cached answer.
extern "C" void InvalidateInstalled(Datum arg, SgSysCacheId cacheid, uint32 hashvalue) {
  installed = Cached::Unknown;
}

}  // namespace

void Init(LoadMethod method) {
  load_method = method;
  if (method == LoadMethod::OnDemand) return;
  CacheRegisterSyscacheCallback(NAMESPACEOID, InvalidateInstalled, (Datum)0);
  CacheRegisterSyscacheCallback(PROCOID, InvalidateInstalled, (Datum)0);
}

bool HookInstalled() { return load_method != LoadMethod::OnDemand; }
LoadMethod HowLoaded() { return load_method; }

const char *LoadMethodName() {
  switch (load_method) {
    case LoadMethod::SharedPreload: return "shared_preload_libraries";
    case LoadMethod::SessionPreload: return "session_preload_libraries";
    case LoadMethod::OnDemand: return "not preloaded";
  }
  return "not preloaded";
}

bool ExtensionInstalled() {
  if (installed == Cached::Unknown)
    installed = OidIsValid(get_extension_oid("schema_guard", true)) ? Cached::Installed : Cached::Absent;
  return installed == Cached::Installed;
}

}  // namespace schema_guard::activation
