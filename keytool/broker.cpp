#include "core/error.h"
#include "commands.h"

namespace brokerkey {

Broker load_broker() {
  Config config = load_config(locate_config());
  Ledger ledger(config.ledger);
  LedgerState state = ledger.state();
  if (!state.initialized) {
    throw config_bad("ledger " + config.ledger.string() + " is empty: the broker was never initialised");
  }
  return Broker{std::move(config), std::move(ledger), std::move(state)};
}

const KeyRecord& key_in_role(const Broker& broker, std::string_view role) {
  TimePoint at = now();
  const KeyRecord* key = nullptr;
  if (role == "current") {
    key = broker.state.current(at);
  } else if (role == "overlap") {
    key = broker.state.overlap(at);
  } else {
    throw cli::UsageError("--role is current or overlap, not '" + std::string(role) + "'");
  }
  if (!key) {
    throw not_found(role == "current" ? "no current key: run 'brokerkey mint'"
                                      : "no overlap key: no rotation is in its overlap window");
  }
  return *key;
}

}  // namespace brokerkey
