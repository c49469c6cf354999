// Module entry: a table of contents, nothing else.
#include "boundary.hpp"
#include "glue/activation.hpp"
#include "glue/guc.hpp"
#include "glue/hook.hpp"

extern "C" {
SG_MODULE_MAGIC;
PGDLLEXPORT void _PG_init(void);
}

void _PG_init(void) {
  using namespace schema_guard;
  RunGuarded("_PG_init", [] {
    // session_preload_libraries are loaded while the backend is still initialising;
    // a library loaded later (by calling one of its functions, or LOAD) is not
    // preloaded and leaves the hook uninstalled, so the guard is never half-on.
    activation::LoadMethod method = activation::LoadMethod::OnDemand;
    if (process_shared_preload_libraries_in_progress)
      method = activation::LoadMethod::SharedPreload;
    else if (IsInitProcessingMode())
      method = activation::LoadMethod::SessionPreload;
    guc::Define();
    activation::Init(method);
    if (activation::HookInstalled()) hook::Install();
  });
}
