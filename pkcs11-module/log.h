// Where the module reports what it cannot put in a return code. BROKERKEY_LOG selects it:
// "stderr" (the default), "syslog" (LOG_AUTH), or "none"; BROKERKEY_DEBUG adds what is
// otherwise left unsaid. docs/ARCHITECTURE.md.
#pragma once

#include <string>

namespace brokerkey {

void log_error(const std::string& message);
// The same, only when BROKERKEY_DEBUG is set: what is worth saying only to someone who asks.
void log_debug(const std::string& message);
// Whether BROKERKEY_DEBUG is set (read once per process).
bool debug_logging();

}  // namespace brokerkey
