// The signing log as the agent writes it: group commit. Every request thread hands its record
// to commit() and waits; one of the waiting threads (the leader) writes every record queued so
// far with one write under the log's lock (ChainedLog::written), lets the next batch be
// written, then syncs its own with one fdatasync and wakes the requesters of that batch. Syncs
// of consecutive batches overlap, two at most (measured faster than one at a time on the
// development VM, and cheaper than any number, below). A record's commit() returns only after
// the sync that covers it, so a signature is sent only once its record is durable — the rule
// that holds under SIGKILL at any moment — while concurrent requests share one sync.
//
// When a batch starts is the one choice. A client has one request in flight at a time (the
// ssh-agent protocol answers in order), so every signature costs its client one sync, and:
// - when the disk syncs faster than the clients sign (CPU-bound), a batch starts as soon as the
//   previous one is written (and a sync slot is free, below) and holds whatever arrived
//   meanwhile (PostgreSQL's XLogFlush does the same for its WAL): while one batch syncs, the
//   clients not in it keep signing, so the sync costs no signing time. Waiting to gather more
//   would leave the cores idle during the sync with every client waiting on it;
// - when the disk is slower than the clients (sync-bound), starting at once splits the clients
//   into groups whose records each wait for the other group's sync first. Then the leader
//   first waits for the requesters of the batch just written to come back with their next
//   record — at most kGatherWindow, and no longer than the last write + sync took — so one
//   sync covers every busy client.
// The two are told apart by measurement: the last write + sync against how long a requester
// takes to come back with its next record (a moving average over every requester; an idle one
// counts as 10 ms). A lone client never waits.
//
// At most two batches sync at a time (kSyncsInFlight): a leader that finds two syncs in flight
// waits for one of them to end before it takes the queue, so its batch holds every record that
// arrived meanwhile. Each fdatasync costs 90–155 µs of CPU on the development VM (the data
// block, the inode — an append changes the size — and a cache flush: three waits on the disk,
// charged to the agent, its interrupts and kernel threads), whoever's records it covers; with no
// limit 8 clients made 1.3 records per sync, with two in flight 2.7–2.9 and 6–13 % less CPU per
// signature, the same throughput. One at a time (4.8 records per sync) idled the cores during
// each sync: less CPU, 25 % less throughput (docs/PERFORMANCE.md, session 6).
//
// Each waiting requester sleeps on its own condition variable: a finished batch wakes its own
// requesters and, when records are queued, exactly one of those to lead the next batch.
//
// The log and its lock file stay open between batches (ChainedLogWriter, core/chained_log.h):
// a batch re-checks under the lock that the path still names the open file and reads the tail
// only when another writer changed it.
#pragma once

#include <boost/json/object.hpp>
#include <atomic>
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

  // The most batches that were syncing at once since this writer was made (for tests).
  std::size_t most_syncing() const { return most_syncing_.load(); }

  // The longest a batch waits for the requesters of the previous one when the disk is the
  // bottleneck: longer than a client's round trip and a few signatures, shorter than a slow
  // sync. A client that has gone away costs one batch this much, once.
  static constexpr std::chrono::microseconds kGatherWindow{2000};
  // How many batches may be syncing at once (written, their fdatasync not returned).
  static constexpr std::size_t kSyncsInFlight = 2;

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
  std::size_t syncing_ = 0;            // batches written whose fdatasync has not returned
  std::condition_variable sync_slot_;  // syncing_ fell below kSyncsInFlight
  std::atomic<std::size_t> most_syncing_{0};
  // Requesters of the last batch written that have not handed in another record yet.
  std::size_t returning_ = 0;
  std::chrono::microseconds last_write_{0};   // its write + sync
  std::chrono::microseconds return_time_{0};  // how long requesters take to come back (average)
};

}  // namespace brokerkey::agent
