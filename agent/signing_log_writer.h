// The signing log as the agent writes it: group commit. Every request thread hands its record
// to commit() and waits; one of the waiting threads (the leader) writes every record queued so
// far with one write under the log's lock (ChainedLog::written), lets the next batch be
// written, then syncs its own with one fdatasync and wakes the requesters of that batch. Syncs
// of consecutive batches overlap (measured faster than one at a time on the development VM,
// whose disk takes concurrent requests). A record's commit() returns only after the sync that covers it, so a
// signature is sent only once its record is durable — the rule that holds under SIGKILL at any
// moment — while concurrent requests share one sync.
//
// When a batch starts is the one choice. A client has one request in flight at a time (the
// ssh-agent protocol answers in order), so every signature costs its client one sync, and:
// - when the disk syncs faster than the clients sign (CPU-bound), a batch starts as soon as the
//   previous one is durable and holds whatever arrived meanwhile (PostgreSQL's XLogFlush does
//   the same for its WAL): while one batch syncs, the clients not in it keep signing, so the
//   sync costs no signing time. Waiting to gather more would leave the cores idle during the
//   sync with every client waiting on it;
// - when the disk is slower than the clients (sync-bound), starting at once splits the clients
//   into groups whose records each wait for the other group's sync first. Then the leader
//   first waits for the requesters of the batch just written to come back with their next
//   record — at most kGatherWindow, and no longer than the last write + sync took — so one
//   sync covers every busy client.
// The two are told apart by measurement: the last write + sync against how long a requester
// takes to come back with its next record (a moving average over every requester; an idle one
// counts as 10 ms). A lone client never waits.
//
// Each waiting requester sleeps on its own condition variable: a finished batch wakes its own
// requesters and, when records are queued, exactly one of those to lead the next batch.
//
// The log and its lock file stay open between batches (ChainedLogWriter, core/chained_log.h):
// a batch re-checks under the lock that the path still names the open file and reads the tail
// only when another writer changed it.
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

  // Appends one record (event "sign") and returns when it is durable. Throws the append's
  // error (file_error, CKR_DEVICE_MEMORY on a full disk, integrity_failed for a damaged
  // tail) when the batch holding it could not be written: then none of that batch was kept.
  void commit(boost::json::object fields);

  const fs::path& path() const { return log_.path(); }

  // The longest a batch waits for the requesters of the previous one when the disk is the
  // bottleneck: longer than a client's round trip and a few signatures, shorter than a slow
  // sync. A client that has gone away costs one batch this much, once.
  static constexpr std::chrono::microseconds kGatherWindow{2000};

 private:
  struct Pending {
    boost::json::object fields;
    bool done = false;
    std::exception_ptr error;
    std::chrono::steady_clock::time_point released;  // when its batch was durable
    std::condition_variable wake;  // done, or asked to lead the next batch
  };
  // Called with `lock` held and writing_ false: writes the queue as one batch.
  void lead(std::unique_lock<std::mutex>& lock);

  // Whether the next batch should wait for the last one's requesters (the disk is slower than
  // they are), and how long at most; zero when it should start at once.
  std::chrono::microseconds gather_time() const;

  using Clock = std::chrono::steady_clock;
  ChainedLogWriter log_;  // kept open between batches (core/chained_log.h)
  std::mutex mutex_;
  std::condition_variable returned_;  // the last of the last batch's requesters came back
  std::vector<Pending*> queue_;       // handed in, not yet being written
  bool writing_ = false;              // a leader is writing a batch
  // Requesters of the last batch written that have not handed in another record yet.
  std::size_t returning_ = 0;
  std::chrono::microseconds last_write_{0};   // its write + sync
  std::chrono::microseconds return_time_{0};  // how long requesters take to come back (average)
};

}  // namespace brokerkey::agent
