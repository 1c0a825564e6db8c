// The signing log as the agent writes it: group commit. Every request thread hands its record
// to commit() and waits; one of the waiting threads writes every record queued so far with one
// write and one fdatasync (ChainedLog::append_batch), then wakes the others. A record's
// commit() returns only after the sync that covers it, so a signature is sent only once its
// record is durable — the rule that holds under SIGKILL at any moment — while concurrent
// requests share one sync (PostgreSQL's XLogFlush does the same for its WAL).
#pragma once

#include <boost/json/object.hpp>
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
  std::vector<Pending*> queue_;  // handed in, not yet being written
  bool writing_ = false;         // a thread is writing a batch
};

}  // namespace brokerkey::agent
