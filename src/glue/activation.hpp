// Is the guard switched on here?  It needs the library's hook in this backend
// (preloaded) and CREATE EXTENSION schema_guard in the current database.
#pragma once

namespace schema_guard::activation {

enum class LoadMethod { SharedPreload, SessionPreload, OnDemand };

void Init(LoadMethod method);        // from _PG_init
bool HookInstalled();
LoadMethod HowLoaded();
const char *LoadMethodName();
bool ExtensionInstalled();           // cached; invalidated when extensions change

}  // namespace schema_guard::activation
