// What brokerkey-agent tells a client about the broker (its view@brokerkey.org extension,
// docs/AGENT.md): which key each token slot shows now, and every key the ledger has committed
// with its lifecycle times, so a client that reads no broker file can still list the key,
// write allowed-signers and verify old signatures by the same rules as the keytool.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/ledger.h"

namespace brokerkey {

struct BrokerView {
  TimePoint time;  // the agent's clock when it answered
  // The ledger's keys, record count, head and token label; no consumers or policies (a client
  // is not told who else may sign). `initialized` is whether the ledger has a mint.
  LedgerState ledger;
  // The slots: current only while the backend proves it holds the key; overlap while its
  // window is open. Each names a key of `ledger.keys`.
  std::optional<Fingerprint> current;
  std::optional<Fingerprint> overlap;
  // Names everything above but `time` (broker_view_text): a client that sends it back in its
  // next view@ request is answered "unchanged" while it still names the agent's view. Empty in
  // an answer from an agent that gives none.
  std::string tag;

  const KeyRecord* current_key() const { return current ? ledger.find(*current) : nullptr; }
  const KeyRecord* overlap_key() const { return overlap ? ledger.find(*overlap) : nullptr; }
};

// A view's JSON object without its time, and its tag: the hex SHA-256 of that text, so two
// views have one tag exactly when they show the same thing (an agent restarted since shows
// the same tag for the same view). The agent keeps it until its view changes.
struct BrokerViewText {
  std::string body;
  std::string tag;
};
BrokerViewText broker_view_text(const BrokerView& view);

// The JSON text the agent sends (one line): the body with `time` and `tag` added.
std::string broker_view_json(const BrokerViewText& text, TimePoint time);
std::string broker_view_json(const BrokerView& view);

// Reads the agent's answer as hostile input: every field typed and bounded, every text by
// core/text.h's rule, every fingerprint the SHA-256 of its public key, every time RFC 3339,
// current and overlap naming keys it lists, the tag (if any) 64 lowercase hex digits. Throws
// Error(CKR_DEVICE_ERROR) naming the field.
BrokerView parse_broker_view(std::string_view json);

}  // namespace brokerkey
