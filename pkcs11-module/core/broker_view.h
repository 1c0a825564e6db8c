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

  const KeyRecord* current_key() const { return current ? ledger.find(*current) : nullptr; }
  const KeyRecord* overlap_key() const { return overlap ? ledger.find(*overlap) : nullptr; }
};

// The JSON text the agent sends (one line).
std::string broker_view_json(const BrokerView& view);

// Reads the agent's answer as hostile input: every field typed and bounded, every text by
// core/text.h's rule, every fingerprint the SHA-256 of its public key, every time RFC 3339,
// current and overlap naming keys it lists. Throws Error(CKR_DEVICE_ERROR) naming the field.
BrokerView parse_broker_view(std::string_view json);

}  // namespace brokerkey
