// The agent's own log: one line per event on stderr. Under systemd (JOURNAL_STREAM set) each
// line starts with its syslog priority ("<4>"), which journald reads as the entry's level.
#pragma once

#include <string>

namespace brokerkey::agent {

enum class Level { error = 3, warning = 4, notice = 5, info = 6 };

void log(Level level, const std::string& message);

}  // namespace brokerkey::agent
