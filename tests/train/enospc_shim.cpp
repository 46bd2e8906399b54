// A test's full disk: loaded with LD_PRELOAD, write(2) fails with ENOSPC for temporary files
// (".NAME...tmp", as io::write_file_atomic names them) whose name contains $FOVEA_TEST_ENOSPC,
// after the first $FOVEA_TEST_ENOSPC_SKIP such writes (default 0) went through. Every other write
// goes through. Used by tests/train/crash_consistency.py.
#include <dlfcn.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" ssize_t write(int fd, const void* buf, size_t n) {
  using Write = ssize_t (*)(int, const void*, size_t);
  static const auto real = reinterpret_cast<Write>(dlsym(RTLD_NEXT, "write"));
  const char* match = std::getenv("FOVEA_TEST_ENOSPC");
  if (match && *match) {
    char link[64], path[4096];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t len = readlink(link, path, sizeof path - 1);
    if (len > 4) {
      path[len] = '\0';
      static long skip = std::getenv("FOVEA_TEST_ENOSPC_SKIP") ? std::atol(std::getenv("FOVEA_TEST_ENOSPC_SKIP")) : 0;
      if (std::strcmp(path + len - 4, ".tmp") == 0 && std::strstr(path, match) && skip-- <= 0) {
        errno = ENOSPC;
        return -1;
      }
    }
  }
  return real(fd, buf, n);
}
