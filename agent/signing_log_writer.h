// The signing log as the agent writes it: group commit. Every request thread hands its record
// to commit() and waits; one of the waiting threads writes every record queued so far with one
// write and one fdatasync (ChainedLog::append_batch), then wakes the others. A record's
// commit() returns only after the sync that covers it, so a signature is sent only once its
// record is durable — the rule that holds under SIGKILL at any moment — while concurrent
// requests share one sync (PostgreSQL's XLogFlush does the same for its WAL).
//
// A client has one request in flight at a time (the ssh-agent protocol answers in order).
// Left alone, concurrent clients split into two groups that take turns: while one group's
// batch syncs, the other queues; when the sync ends the queued group's batch starts at once,
// a moment before the released group comes back, so each sync covers only half the clients.
// So a leader first waits, at most kGatherWindow and no longer than the last write + sync
// took, for the requesters of the batch just written to come back with their next record: one
// sync then covers every busy client. A lone client, or one whose request arrives after the
// others are back, never waits.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <vector>

#include "core/chained_log.h"

namespace brokerkey::agent {

class SigningLogWriter {
 public:
  explicit SigningLogWriter(fs::path path) : log_(std::move(path)) {}

  // The longest a batch waits for the requesters of the previous one: longer than a client's
  // round trip and one signature (well under a millisecond with SoftHSM), shorter than a sync
  // on most disks. A client that has gone away costs one batch this much, once.
  static constexpr std::chrono::microseconds kGatherWindow{2000};

  // Appends one record (event "sign") and returns when it is durable. Throws the append's
  // error (file_error, CKR_DEVICE_MEMORY on a full disk, integrity_failed for a damaged
  // tail) when the batch holding it could not be written: then none of that batch was kept.
  void commit(boost::json::object fields);

  const fs::path& path() const { return log_.path(); }

 private:
  struct Pending {
    boost::json::object fields;
    bool done = false;
    std::exception_ptr error;
  };
  void write_batch(const std::vector<Pending*>& batch);

  ChainedLog log_;
  std::mutex mutex_;
  std::condition_variable written_;
  std::condition_variable returned_;  // a record arrived while returning_ > 0
  std::vector<Pending*> queue_;       // handed in, not yet being written
  bool writing_ = false;              // a thread is gathering or writing a batch
  // Requesters of the last batch written that have not handed in another record yet.
  std::size_t returning_ = 0;
  // How long the last batch's write and sync took: the longest worth waiting for the next.
  std::chrono::microseconds last_write_{0};
};

}  // namespace brokerkey::agent
