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
#include <atomic>
#include <memory>
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
    explicit Unsynced(TrustedFile file) : file_(std::make_shared<TrustedFile>(std::move(file))) {}
    // A log kept open by a ChainedLogWriter: `sync_failed` is set if sync() fails, so that the
    // writer opens the log again and reads its tail before the next append.
    Unsynced(std::shared_ptr<const TrustedFile> file, std::shared_ptr<std::atomic<bool>> sync_failed)
        : file_(std::move(file)), sync_failed_(std::move(sync_failed)) {}
    void sync();

   private:
    std::shared_ptr<const TrustedFile> file_;
    std::shared_ptr<std::atomic<bool>> sync_failed_;
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

// A writer that keeps the log and its lock file open between appends: the agent's signing log,
// which appends a batch every few hundred microseconds. ChainedLog::written walks the log's
// directory (open_trusted_in), opens and checks the lock file, reads the log's tail and looks up
// its actor for every batch: about 30 system calls. This writer does that once, and then per
// batch, under the same writers' lock (so it interleaves with every other writer, such as an
// embedded-mode module or the keytool on the broker host):
// - one stat of the log's path and one of the lock file's, compared with the descriptors held
//   (device and inode). A log or lock file renamed, removed or replaced — the path now names
//   another file or none — is opened again by the trusted walk; the file's own rule (a regular
//   file owned by root or this user, not writable by group or others; the lock file 0600) is
//   checked again on every stat, and the directory rule on the log's directory (an fstat of
//   the descriptor the walk returned; its ancestors are checked when the log is opened);
// - the tail is read (and a torn one cut off, as ChainedLog does) only when the log's size is
//   not the size this writer left after its last write, i.e. another writer appended or cut it
//   meanwhile; otherwise the next seq and prev are the ones this writer remembers.
// Any failure (lock, stat, write, or a sync of an earlier batch) closes everything, so the next
// batch starts from the trusted walk and the file's tail again; nothing is written by a batch
// that throws. The actor (user, uid, host, pid) is looked up when the log is opened.
// One caller at a time (the agent's batch leader); an Unsynced's sync() may run concurrently
// with the next written().
class ChainedLogWriter {
 public:
  explicit ChainedLogWriter(fs::path path);
  ChainedLogWriter(const ChainedLogWriter&) = delete;
  ChainedLogWriter& operator=(const ChainedLogWriter&) = delete;
  ~ChainedLogWriter();

  // As ChainedLog::written: one write under the writers' lock, which is released on return.
  ChainedLog::Unsynced written(const std::vector<ChainedLog::Entry>& entries, TimePoint time);

  const fs::path& path() const { return path_; }

  // How many times the log has been opened by the trusted walk, and its tail read, since this
  // writer was made (for tests and benchmarks).
  std::size_t opens() const { return opens_; }
  std::size_t tail_reads() const { return tail_reads_; }

 private:
  struct Kept;
  void open();

  fs::path path_;
  std::unique_ptr<Kept> kept_;
  std::size_t opens_ = 0;
  std::size_t tail_reads_ = 0;
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
