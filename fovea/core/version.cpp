#include "fovea/core/version.h"

namespace fovea {

std::string version() { return FOVEA_VERSION; }
std::string build_commit() { return FOVEA_BUILD_COMMIT; }

}  // namespace fovea
