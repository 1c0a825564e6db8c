#include "signing_log_writer.h"

#include <algorithm>
#include <optional>

#include "core/clock.h"

namespace brokerkey::agent {

namespace {
// When this thread's last record was released, and by which writer: the time from there to
// its next record is how long a requester takes to come back (its client's round trip and the
// signature, with whatever else the cores were doing).
struct LastRelease {
  const void* writer = nullptr;
  std::chrono::steady_clock::time_point at;
};
thread_local LastRelease last_release;
// A requester away longer than this was idle, not busy: it counts as this long.
constexpr std::chrono::microseconds kIdle{10'000};
}  // namespace

void SigningLogWriter::commit(boost::json::object fields) {
  Pending mine{std::move(fields), false, nullptr, {}, {}};
  std::unique_lock lock(mutex_);
  queue_.push_back(&mine);
  if (last_release.writer == this) {
    auto away = std::min(kIdle, std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - last_release.at));
    return_time_ = return_time_.count() == 0 ? away : (return_time_ * 7 + away) / 8;
  }
  if (returning_ > 0 && --returning_ == 0) returned_.notify_all();
  while (!mine.done) {
    if (writing_) {
      mine.wake.wait(lock);
    } else {
      lead(lock);  // the batch holds this record (it is queued and nobody else is writing)
    }
  }
  last_release = {this, mine.released};
  if (mine.error) std::rethrow_exception(mine.error);
}

void SigningLogWriter::lead(std::unique_lock<std::mutex>& lock) {
  writing_ = true;
  if (std::chrono::microseconds wait = gather_time(); wait.count() > 0) {
    returned_.wait_for(lock, wait, [this] { return returning_ == 0; });
  }
  // At most kSyncsInFlight batches syncing: while both are, this leader keeps the queue open
  // and takes whatever arrived by the time one of them is durable.
  sync_slot_.wait(lock, [this] { return syncing_ < kSyncsInFlight; });
  std::vector<Pending*> batch;
  batch.swap(queue_);
  lock.unlock();
  std::exception_ptr error;
  auto started = Clock::now();
  std::optional<ChainedLog::Unsynced> file;
  try {
    std::vector<ChainedLog::Entry> entries;
    entries.reserve(batch.size());
    for (const Pending* pending : batch) entries.push_back({"sign", pending->fields});
    file.emplace(log_.written(entries, now()));
  } catch (...) {
    error = std::current_exception();
  }
  // Written: the next batch may be written while this one syncs, and synced at the same time
  // (the kernel and the disk overlap concurrent syncs; serialising them was measured slower).
  // One of the next batch's requesters leads it.
  lock.lock();
  writing_ = false;
  if (file && ++syncing_ > most_syncing_.load()) most_syncing_.store(syncing_);
  if (!queue_.empty()) queue_.front()->wake.notify_one();
  lock.unlock();
  if (file) {
    try {
      file->sync();
    } catch (...) {
      error = std::current_exception();
    }
  }
  auto finished = Clock::now();
  lock.lock();
  if (file) {
    --syncing_;
    sync_slot_.notify_one();  // only a leader waits for a slot, and there is one at a time
  }
  last_write_ = std::chrono::duration_cast<std::chrono::microseconds>(finished - started);
  returning_ = batch.size();
  // Notified under the lock: a requester can only return (and its Pending go away) once it
  // holds the lock and sees done.
  for (Pending* pending : batch) {
    pending->done = true;
    pending->error = error;
    pending->released = finished;
    pending->wake.notify_one();
  }
}

std::chrono::microseconds SigningLogWriter::gather_time() const {
  // Sync-bound when the last sync took longer than requesters take to come back. Before any
  // has come back (return_time_ zero) a batch gathers: that costs at most one sync's time.
  if (returning_ == 0 || last_write_ <= return_time_) return std::chrono::microseconds{0};
  return std::min(kGatherWindow, last_write_);
}

}  // namespace brokerkey::agent
