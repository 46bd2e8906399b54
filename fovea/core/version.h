#pragma once
// fovea's version, and the commit the library was built from ("unknown" outside a git checkout):
// distributed runs refuse ranks built from different ones (docs/distributed.md).
#include <string>

namespace fovea {

std::string version();       // "0.1.0"
std::string build_commit();  // git's commit hash at configure time, or "unknown"

}  // namespace fovea
