#include "log.h"

#include <syslog.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace brokerkey {

void log_error(const std::string& message) {
  const char* target = std::getenv("BROKERKEY_LOG");
  if (target && std::strcmp(target, "none") == 0) return;
  if (target && std::strcmp(target, "syslog") == 0) {
    ::syslog(LOG_AUTH | LOG_ERR, "brokerkey-pkcs11: %s", message.c_str());
    return;
  }
  std::fprintf(stderr, "brokerkey-pkcs11: %s\n", message.c_str());
}

bool debug_logging() {
  static const bool debug = std::getenv("BROKERKEY_DEBUG") != nullptr;
  return debug;
}

void log_debug(const std::string& message) {
  if (debug_logging()) log_error(message);
}

}  // namespace brokerkey
