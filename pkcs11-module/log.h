// Where the module reports what it cannot put in a return code. BROKERKEY_LOG selects it:
// "stderr" (the default), "syslog" (LOG_AUTH), or "none". docs/ARCHITECTURE.md.
#pragma once

#include <string>

namespace brokerkey {

void log_error(const std::string& message);

}  // namespace brokerkey
