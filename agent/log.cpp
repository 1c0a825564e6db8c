#include "log.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace brokerkey::agent {

void log(Level level, const std::string& message) {
  static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
  static std::mutex mutex;
  std::string line;
  // Appended, not `"<" + ...`: GCC 12 at -O3 warns falsely on that (-Wrestrict, GCC bug 105651).
  if (journal) line.append("<").append(std::to_string(static_cast<int>(level))).append(">");
  line += message;
  // Control characters in a message (from a peer's executable name, say) would forge lines.
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  line += '\n';
  std::lock_guard lock(mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace brokerkey::agent
