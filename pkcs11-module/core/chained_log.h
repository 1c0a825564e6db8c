// Append-only, hash-chained JSON Lines: the lifecycle ledger and the signing log.
//
// Each line is one JSON object: seq, time, event, actor, the event's fields, prev, hash.
// `prev` is the hex SHA-256 of the previous line's exact bytes (64 zeros for the first);
// `hash` is the hex SHA-256 of the line as written up to `,"hash"`, closed with `}`, so a
// damaged record names itself even when it is the last one. Writers hold an exclusive lock and
// append one whole line with one write, then fsync; readers ignore a trailing line without its
// newline (a writer that died mid-write), and the next writer removes it.
// The writers' lock is an OFD write lock on "<log>.lock" (mode 0600), waited for at most five
// seconds (then CKR_FUNCTION_FAILED); readers take no lock. Files are opened with open_trusted.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/files.h"

namespace brokerkey {

namespace fs = std::filesystem;

struct TailRepair {
  std::size_t first_line = 0;  // 1-based, the lines moved aside
  std::size_t last_line = 0;
  fs::path moved_to;
};

class ChainedLog {
 public:
  explicit ChainedLog(fs::path path) : path_(std::move(path)) {}

  // Called under the lock with every line, the new one last; throws to refuse the append.
  using Validator = std::function<void(const std::vector<std::string>& lines)>;

  // Appends one record and returns it as written. Creates the file (mode 0600) if missing.
  // With a validator the whole file is read under the lock; without, only its tail.
  boost::json::object append(std::string_view event, const boost::json::object& fields,
                             TimePoint time, const Validator& validate = {}) const;

  // Appends several records with one write and one fdatasync, in order, all stamped `time`: the
  // agent's group commit (agent/signing_log_writer.h). Either all are durable when it returns,
  // or it throws and none was kept.
  struct Entry {
    std::string event;
    boost::json::object fields;
  };
  std::vector<boost::json::object> append_batch(const std::vector<Entry>& entries, TimePoint time,
                                                const Validator& validate = {}) const;

  // The same in two steps, so that a writer can prepare and write its next batch while the
  // previous one syncs: written() appends the records with one write under the writers' lock
  // and releases the lock, and its sync() makes them durable (fdatasync covers everything
  // written to the file before it is called, whoever wrote it). Until sync() has returned,
  // the records may be lost: nothing that depends on them may leave before. Throws as
  // append_batch does; after a failed sync() the records may or may not be on disk.
  class Unsynced {
   public:
    explicit Unsynced(TrustedFile file) : file_(std::move(file)) {}
    void sync();

   private:
    TrustedFile file_;
  };
  Unsynced written(const std::vector<Entry>& entries, TimePoint time) const;

  // Moves a damaged tail aside: when the first faulty record and every line after it are not
  // intact records, they are written (fsynced) to "<log>.damaged-<unix time>-<pid>" beside the
  // log and then cut off it, under the writers' lock; every good record stays. nullopt when
  // the chain is intact; integrity_failed when intact records follow the fault (not a tail:
  // restore from a copy). Evidence is never deleted.
  std::optional<TailRepair> repair_tail() const;

  // The complete lines, in order; a missing file has none.
  std::vector<std::string> read_lines() const;

  const fs::path& path() const { return path_; }

 private:
  // Under the writers' lock (released on return): checks the tail, appends `entries` with one
  // write, and returns the log's descriptor, not yet synced; the records as written in
  // `records`.
  TrustedFile write_locked(const std::vector<Entry>& entries, TimePoint time, const Validator& validate,
                           std::vector<boost::json::object>& records) const;

  fs::path path_;
};

struct ChainFault {
  std::size_t line = 0;  // 1-based
  std::optional<std::uint64_t> seq;
  std::string problem;
};

// Whether the fault and everything after it are damaged lines, none of them an intact record
// (what repair_tail moves aside).
bool damage_is_at_tail(const std::vector<std::string>& lines, const ChainFault& fault);

// Walks the chain; the first record that is malformed, altered or out of place, or nullopt.
std::optional<ChainFault> verify_chain(const std::vector<std::string>& lines);

// Parses one line; throws integrity_failed if it is not a JSON object.
boost::json::object parse_record(std::string_view line);

std::string hash_of_line(std::string_view line);
inline const std::string kGenesisPrev(64, '0');

}  // namespace brokerkey
