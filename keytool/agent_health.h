// What brokerkey-agent's health@brokerkey.org says (docs/AGENT.md), read as hostile input: the
// keytool's check and status show it to a consumer that reads no broker file.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brokerkey {

struct AgentHealth {
  bool ok = false;                      // status "ok"; "degraded" names at least one problem
  std::vector<std::string> problems;    // each one line of printable text (core/text.h)
  std::optional<std::string> consumer;  // who the agent takes the asking account for
  bool logged = false;                  // whether the agent keeps a signing log
};

// Throws Error(CKR_DEVICE_ERROR) naming the field at fault: not JSON, a field missing or of the
// wrong type, a text that breaks core/text.h's rule, more than 64 problems, an unknown status,
// degraded without a problem.
AgentHealth parse_agent_health(std::string_view json);

}  // namespace brokerkey
