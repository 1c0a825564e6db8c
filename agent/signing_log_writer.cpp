#include "signing_log_writer.h"

#include <algorithm>

#include "core/clock.h"

namespace brokerkey::agent {

void SigningLogWriter::commit(boost::json::object fields) {
  Pending mine{std::move(fields), false, nullptr};
  std::unique_lock lock(mutex_);
  queue_.push_back(&mine);
  if (returning_ > 0) {
    --returning_;
    returned_.notify_all();
  }
  while (!mine.done) {
    if (writing_) {
      written_.wait(lock);
      continue;
    }
    // Lead the next batch: everything queued so far, this record among it, and the records of
    // the last batch's requesters that come back in time: within the gather window, and no
    // longer than the last sync took (waiting longer costs more than the extra sync it saves).
    writing_ = true;
    returned_.wait_for(lock, std::min(kGatherWindow, last_write_), [this] { return returning_ == 0; });
    returning_ = 0;
    std::vector<Pending*> batch;
    batch.swap(queue_);
    lock.unlock();
    std::exception_ptr error;
    auto started = std::chrono::steady_clock::now();
    try {
      write_batch(batch);
    } catch (...) {
      error = std::current_exception();
    }
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
    lock.lock();
    last_write_ = took;
    for (Pending* pending : batch) {
      pending->done = true;
      pending->error = error;
    }
    returning_ = batch.size();
    writing_ = false;
    written_.notify_all();
  }
  if (mine.error) std::rethrow_exception(mine.error);
}

void SigningLogWriter::write_batch(const std::vector<Pending*>& batch) {
  std::vector<ChainedLog::Entry> entries;
  entries.reserve(batch.size());
  for (const Pending* pending : batch) entries.push_back({"sign", pending->fields});
  log_.append_batch(entries, now());
}

}  // namespace brokerkey::agent
