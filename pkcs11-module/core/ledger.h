// The lifecycle ledger: the single source of truth for which key is current, overlap, retired
// or revoked. Both the module and the keytool fold it into a LedgerState.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/chained_log.h"
#include "core/clock.h"
#include "core/consumer_policy.h"
#include "core/ed25519.h"
#include "core/files.h"

namespace brokerkey {

enum class KeyStatus { current, overlap, superseded, retired, revoked };
std::string_view to_string(KeyStatus status);

struct KeyRecord {
  std::string label;
  Fingerprint fingerprint;
  PublicKey public_key;
  TimePoint created;                       // when the mint or rotate record committed it
  TimePoint rotation_due;                  // created + rotation period
  std::optional<TimePoint> superseded_at;  // when a rotation replaced it
  std::optional<TimePoint> overlap_until;  // end of its overlap window
  std::optional<TimePoint> retired_at;
  std::optional<TimePoint> revoked_at;
  std::optional<TimePoint> compromised_since;
  std::string revoke_reason;
  std::optional<std::string> certificate_der_base64;  // the latest cert_issue's certificate
  std::vector<Bytes> certificates;                     // every cert_issue's certificate (DER), in order

  // Its role at `at`: overlap only while the window is open.
  KeyStatus status_at(TimePoint at) const;
};

// The time a key's signatures are good for, in the whole seconds signatures carry: from the
// second of its commit until it stopped signing (rotated out or retired; the second of that
// record included, as the ledger's times are rounded down), cut at compromised_since for a
// revoked key. A revoked key without compromised_since, or a window with nothing left in it,
// has none: it verifies nothing. The one rule every verifier applies (allowed-signers writes
// it as valid-after/valid-before, brokerkey-gpgsm checks it).
struct SigningWindow {
  TimePoint from;
  std::optional<TimePoint> until;  // exclusive; none while the key is current
  bool contains(TimePoint t) const { return t >= from && (!until || t < *until); }
};
std::optional<SigningWindow> signing_window(const KeyRecord& key);

struct LedgerState {
  bool initialized = false;
  std::string token_label;
  std::vector<KeyRecord> keys;  // in the order they were minted
  std::set<std::string> consumers;
  std::map<std::string, ConsumerPolicy> policies;  // by consumer name, for every consumer
  std::size_t records = 0;
  std::string head_hash;  // hash of the last line: anchors the chain outside the file

  const KeyRecord* current(TimePoint at) const;
  const KeyRecord* overlap(TimePoint at) const;
  const KeyRecord* find(const Fingerprint& fingerprint) const;
};

// Folds records into state; throws integrity_failed if the chain is broken or a record
// contradicts the ones before it (verify first to learn which).
LedgerState fold_ledger(const std::vector<std::string>& lines);

class Ledger {
 public:
  explicit Ledger(fs::path path) : log_(std::move(path)) {}

  // Refuses a ledger others could have written (open_trusted, in ChainedLog); a missing one
  // has no lines.
  std::vector<std::string> lines() const { return log_.read_lines(); }
  LedgerState state() const { return fold_ledger(lines()); }
  // Appends a record only if the ledger with it still folds: every lifecycle rule is checked
  // by fold_ledger, under the writers' lock, so two racing commands cannot both commit.
  boost::json::object append(std::string_view event, const boost::json::object& fields) const {
    return log_.append(event, fields, now(),
                       [](const std::vector<std::string>& lines) { fold_ledger(lines); });
  }
  const fs::path& path() const { return log_.path(); }

 private:
  ChainedLog log_;
};

}  // namespace brokerkey
