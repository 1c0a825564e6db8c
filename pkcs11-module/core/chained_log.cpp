#include "core/chained_log.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>
#include <cstring>
#include <mutex>
#include <optional>
#include <utility>

#include "core/bytes.h"
#include "core/error.h"
#include "core/files.h"
#include "core/unique_fd.h"

namespace brokerkey {

namespace json = boost::json;

namespace {

constexpr std::string_view kHashField = ",\"hash\":\"";

std::string errno_text(const fs::path& path) { return path.string() + ": " + std::strerror(errno); }

// The account name of `uid`, looked up once per uid and process: a lookup can read
// /etc/passwd or ask a directory service, which the agent would otherwise do for every batch.
std::string user_name(uid_t uid) {
  static std::mutex mutex;
  static std::optional<std::pair<uid_t, std::string>> cached;
  std::lock_guard lock(mutex);
  if (cached && cached->first == uid) return cached->second;
  std::string user = "uid" + std::to_string(uid);
  struct passwd entry {};
  struct passwd* found = nullptr;
  char buffer[1024];
  if (::getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) == 0 && found) user = found->pw_name;
  cached.emplace(uid, user);
  return user;
}

json::object actor() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return {{"user", user_name(::geteuid())}, {"uid", ::geteuid()}, {"host", host}, {"pid", ::getpid()}};
}

// The writers' lock: an OFD write lock on "<log>.lock", a file of mode 0600. fcntl write locks
// need a descriptor open for writing, and only the log's owner (or root) can open that file,
// so a reader of the log cannot take it or stall writers (flock on the log itself could be
// taken through any read-only descriptor). The wait is bounded: a writer that holds it longer
// than kLockWait makes the append fail with CKR_FUNCTION_FAILED, which C_Sign may return and
// which tells a client to try again later, rather than stalling every signer.
constexpr auto kLockWait = std::chrono::seconds(5);

void lock_writers(int fd, const fs::path& path, const fs::path& log) {
  struct flock range {};
  range.l_type = F_WRLCK;
  range.l_whence = SEEK_SET;
  auto deadline = std::chrono::steady_clock::now() + kLockWait;
  auto pause = std::chrono::milliseconds(1);
  while (::fcntl(fd, F_OFD_SETLK, &range) != 0) {
    if (errno != EAGAIN && errno != EACCES && errno != EINTR) throw file_error("cannot lock " + errno_text(path));
    if (std::chrono::steady_clock::now() >= deadline) {
      throw Error(CKR_FUNCTION_FAILED, log.string() + ": another writer has held its lock (" + path.string() +
                                           ") for more than " + std::to_string(kLockWait.count()) +
                                           " seconds; nothing was written, try again");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

fs::path lock_path(const fs::path& log) {
  fs::path path = log;
  path += ".lock";
  return path;
}

// The lock file's own rule, on its fstat or a stat of its path.
void check_lock_mode(const struct stat& info, const fs::path& path) {
  if ((info.st_mode & 077) != 0) {
    throw file_error("lock file " + path.string() + " is accessible by group or others: a reader " +
                     "could lock it and stall every writer (chmod 600)");
  }
}

TrustedFile checked_lock_file(TrustedFile file) {
  check_lock_mode(file.info(), file.path());
  return file;
}

class FileLock {
 public:
  explicit FileLock(const fs::path& log) : FileLock(log, open_trusted(lock_path(log), TrustedOpen::append)) {}
  // The lock file opened in the log's checked directory `dir` (walked once for both files).
  FileLock(const fs::path& log, int dir, const fs::path& directory)
      : FileLock(log, open_trusted_in(dir, directory, lock_path(log).filename().string(), TrustedOpen::append)) {}
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() = default;  // closing the descriptor releases the OFD lock

 private:
  FileLock(const fs::path& log, TrustedFile file) : file_(checked_lock_file(std::move(file))) {
    fs::path path = file_.path();
    lock_writers(file_.fd(), path, log);
  }
  TrustedFile file_;
};

std::string read_range(int fd, off_t offset, std::size_t length, const fs::path& path) {
  std::string out(length, '\0');
  std::size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out.data() + done, length - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw file_error("cannot read " + errno_text(path));
    done += static_cast<std::size_t>(n);
  }
  return out;
}

// Under the lock: drops a torn tail left by a writer that died, and returns the last complete
// line ("" if none).
std::string last_line_repairing_tail(int fd, const fs::path& path, off_t& end_out) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) throw file_error("cannot stat " + errno_text(path));
  off_t end = info.st_size;
  std::string tail;
  off_t start = end;
  // Read backwards until the text holds the start of the last complete line: a few KiB first
  // (a record is well under that), then larger pieces for a long last line.
  off_t piece = 4096;
  for (;;) {
    std::size_t newline_count = 0;
    for (char c : tail) newline_count += c == '\n';
    if (start == 0 || newline_count >= 2) break;
    off_t chunk = std::min<off_t>(start, piece);
    piece = std::min<off_t>(piece * 4, 65536);
    start -= chunk;
    tail = read_range(fd, start, static_cast<std::size_t>(chunk), path) + tail;
  }
  if (!tail.empty() && tail.back() != '\n') {
    std::size_t keep = tail.rfind('\n');
    off_t new_end = keep == std::string::npos ? start : start + static_cast<off_t>(keep) + 1;
    if (::ftruncate(fd, new_end) != 0) throw file_error("cannot truncate torn record in " + errno_text(path));
    tail.resize(keep == std::string::npos ? 0 : keep + 1);
    end = new_end;
  }
  end_out = end;
  if (tail.empty()) return {};
  tail.pop_back();  // the newline
  std::size_t begin = tail.rfind('\n');
  return begin == std::string::npos ? tail : tail.substr(begin + 1);
}

// The complete lines of `content`; anything after the last newline is a torn write, not a record.
std::vector<std::string> split_lines(const std::string& content) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t newline; (newline = content.find('\n', start)) != std::string::npos; start = newline + 1) {
    lines.push_back(content.substr(start, newline - start));
  }
  return lines;
}

std::optional<std::string> string_field(const json::object& record, std::string_view key) {
  const json::value* value = record.if_contains(key);
  if (!value || !value->is_string()) return std::nullopt;
  return std::string(value->as_string());
}

}  // namespace

std::string hash_of_line(std::string_view line) { return hex_encode(sha256(as_bytes(line))); }

json::object parse_record(std::string_view line) {
  json::error_code ec;
  json::value value = json::parse(line, ec);
  if (ec || !value.is_object()) throw integrity_failed("record is not a JSON object");
  return std::move(value.as_object());
}

json::object ChainedLog::append(std::string_view event, const json::object& fields,
                                TimePoint time, const Validator& validate) const {
  std::vector<json::object> written = append_batch({{std::string(event), fields}}, time, validate);
  return std::move(written.front());
}

std::vector<json::object> ChainedLog::append_batch(const std::vector<Entry>& entries, TimePoint time,
                                                   const Validator& validate) const {
  std::vector<json::object> records;
  TrustedFile file = write_locked(entries, time, validate, records);
  Unsynced(std::move(file)).sync();
  return records;
}

ChainedLog::Unsynced ChainedLog::written(const std::vector<Entry>& entries, TimePoint time) const {
  std::vector<json::object> records;
  return Unsynced(write_locked(entries, time, {}, records));
}

void ChainedLog::Unsynced::sync() {
  if (::fdatasync(file_->fd()) != 0) {
    if (sync_failed_) sync_failed_->store(true);
    throw file_error("cannot sync " + errno_text(file_->path()));
  }
}

namespace {

// Where the next record goes: its seq and prev, from the log's last complete line (a torn tail
// cut off first), and the file's size after that.
struct ChainPosition {
  std::uint64_t seq = 1;
  std::string prev = kGenesisPrev;
  off_t end = 0;
};

ChainPosition chain_position(const TrustedFile& fd, const fs::path& path) {
  ChainPosition position;
  std::string previous = last_line_repairing_tail(fd.fd(), path, position.end);
  if (previous.empty()) return position;
  // A damaged last record stops every append until it is moved aside: say where and how.
  auto damaged = [&](const std::string& problem) {
    return integrity_failed(path.string() + ": its last record (line " + std::to_string(split_lines(fd.read()).size()) +
                            ") " + problem + "; nothing was written: run 'brokerkey audit verify', then " +
                            "'brokerkey health --repair' to move the damaged tail aside");
  };
  json::object last;
  try {
    last = parse_record(previous);
  } catch (const Error&) {
    throw damaged("is not a JSON object");
  }
  const json::value* last_seq = last.if_contains("seq");
  if (!last_seq || !last_seq->is_int64() || last_seq->as_int64() < 1) throw damaged("has no valid seq");
  position.seq = static_cast<std::uint64_t>(last_seq->as_int64()) + 1;
  position.prev = hash_of_line(previous);
  return position;
}

// The records of `entries` as lines following `position` (advanced past them), all in `text`.
std::string format_batch(const std::vector<ChainedLog::Entry>& entries, TimePoint time, const json::object& who,
                         std::uint64_t& seq, std::string& prev, std::vector<json::object>& records,
                         std::vector<std::string>* new_lines) {
  std::string text;  // every new line, written at once
  for (const auto& [event, fields] : entries) {
    json::object record{{"seq", seq++}, {"time", format_rfc3339(time)}, {"event", event}, {"actor", who}};
    for (const auto& field : fields) record[field.key()] = field.value();
    record["prev"] = prev;
    std::string body = json::serialize(record);
    std::string hash = hash_of_line(body);
    std::string line = body.substr(0, body.size() - 1) + std::string(kHashField) + hash + "\"}";
    prev = hash_of_line(line);
    record["hash"] = hash;
    records.push_back(std::move(record));
    text += line + "\n";
    if (new_lines) new_lines->push_back(std::move(line));
  }
  return text;
}

// Appends `text` with one write, or leaves nothing of it and throws.
void append_text(int fd, const std::string& text, const fs::path& path) {
  ssize_t written = ::write(fd, text.data(), text.size());
  if (written == static_cast<ssize_t>(text.size())) return;
  int saved = errno;
  // Leave nothing torn behind: cut back to where these records began.
  struct stat info {};
  if (written > 0 && ::fstat(fd, &info) == 0) {
    [[maybe_unused]] int ignored = ::ftruncate(fd, info.st_size - written);
  }
  errno = written < 0 ? saved : ENOSPC;
  bool full = errno == ENOSPC || errno == EFBIG || errno == EDQUOT;
  // A full disk is the token being out of memory, which a client can act on; anything else
  // is the generic file failure.
  if (full) throw Error(CKR_DEVICE_MEMORY, "cannot append to " + errno_text(path));
  throw file_error("cannot append to " + errno_text(path));
}

}  // namespace

TrustedFile ChainedLog::write_locked(const std::vector<Entry>& entries, TimePoint time, const Validator& validate,
                                     std::vector<json::object>& records) const {
  // The log's directory walked once, for the lock file and the log.
  const fs::path directory = path_.has_parent_path() ? path_.parent_path() : fs::path(".");
  UniqueFd dir = check_trusted_directory(directory);
  FileLock lock(path_, dir.get(), directory);
  TrustedFile fd = open_trusted_in(dir.get(), directory, path_.filename().string(), TrustedOpen::append);

  ChainPosition position = chain_position(fd, path_);
  std::vector<std::string> new_lines;
  std::string text =
      format_batch(entries, time, actor(), position.seq, position.prev, records, validate ? &new_lines : nullptr);

  if (validate) {
    std::vector<std::string> lines = split_lines(fd.read());  // the file locked and checked
    lines.insert(lines.end(), new_lines.begin(), new_lines.end());
    validate(lines);
  }
  append_text(fd.fd(), text, path_);
  return fd;
}

// --- ChainedLogWriter ---------------------------------------------------------------------

struct ChainedLogWriter::Kept {
  std::shared_ptr<const TrustedFile> log;
  TrustedFile lock;
  json::object actor;
  UniqueFd dir;  // the log's directory, as the walk checked it
  std::shared_ptr<std::atomic<bool>> sync_failed = std::make_shared<std::atomic<bool>>(false);
  // What this writer left: the log's size after its last write (-1: not known, read the tail),
  // and where the next record goes if nobody else has written since.
  off_t size_left = -1;
  std::uint64_t seq = 1;
  std::string prev;
};

ChainedLogWriter::ChainedLogWriter(fs::path path) : path_(std::move(path)) {}
ChainedLogWriter::~ChainedLogWriter() = default;

void ChainedLogWriter::open() {
  kept_.reset();
  // The log's directory walked once, for the lock file and the log, as ChainedLog does.
  const fs::path directory = path_.has_parent_path() ? path_.parent_path() : fs::path(".");
  UniqueFd dir = check_trusted_directory(directory);
  TrustedFile lock = checked_lock_file(
      open_trusted_in(dir.get(), directory, lock_path(path_).filename().string(), TrustedOpen::append));
  auto log = std::make_shared<const TrustedFile>(
      open_trusted_in(dir.get(), directory, path_.filename().string(), TrustedOpen::append));
  kept_.reset(new Kept{std::move(log), std::move(lock), actor(), std::move(dir),
                       std::make_shared<std::atomic<bool>>(false), -1, 1, kGenesisPrev});
  ++opens_;
}

namespace {
bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

// Whether `path` still names the file open as `open`; throws if it does but that file no longer
// satisfies the trusted rule (core/files.h), or for the lock file its own.
bool still_names(const fs::path& path, const TrustedFile& open, bool lock_file, struct stat& now) {
  if (::stat(path.c_str(), &now) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    throw file_error("cannot stat " + errno_text(path));
  }
  if (!same_file(now, open.info())) return false;
  check_trusted_file_info(now, path);
  if (lock_file) check_lock_mode(now, path);
  return true;
}

// Releases the writers' lock taken on a kept lock file when the batch is done.
class Unlock {
 public:
  explicit Unlock(int fd) : fd_(fd) {}
  Unlock(const Unlock&) = delete;
  Unlock& operator=(const Unlock&) = delete;
  ~Unlock() {
    struct flock range {};
    range.l_type = F_UNLCK;
    range.l_whence = SEEK_SET;
    ::fcntl(fd_, F_OFD_SETLK, &range);
  }

 private:
  int fd_;
};
}  // namespace

ChainedLog::Unsynced ChainedLogWriter::written(const std::vector<ChainedLog::Entry>& entries, TimePoint time) {
  try {
    if (kept_ && kept_->sync_failed->load()) kept_.reset();
    // A log or lock file found replaced is opened again; found replaced three times in one
    // batch, someone is replacing it in a loop, and this batch gives up.
    for (int attempt = 0;; ++attempt) {
      if (!kept_) open();
      lock_writers(kept_->lock.fd(), kept_->lock.path(), path_);
      std::optional<Unlock> unlock(std::in_place, kept_->lock.fd());
      struct stat now {};  // of the log: its size, when it is still the file open
      // The log's directory still satisfies the rule (its ancestors were checked at open; a
      // directory moved or replaced above it changes what the paths name).
      struct stat dir {};
      if (::fstat(kept_->dir.get(), &dir) != 0) throw file_error("cannot stat " + errno_text(path_.parent_path()));
      check_trusted_directory_info(dir, path_.has_parent_path() ? path_.parent_path() : fs::path("."));
      if (!still_names(lock_path(path_), kept_->lock, true, now) || !still_names(path_, *kept_->log, false, now)) {
        unlock.reset();
        kept_.reset();
        if (attempt == 2) {
          throw file_error(path_.string() + " or its lock file keeps being replaced; nothing was written");
        }
        continue;
      }
      off_t end = now.st_size;
      if (end != kept_->size_left) {
        // Another writer appended (or cut a torn or damaged tail) since this one last wrote.
        ChainPosition position = chain_position(*kept_->log, path_);
        ++tail_reads_;
        kept_->seq = position.seq;
        kept_->prev = std::move(position.prev);
        end = position.end;
      }
      kept_->size_left = -1;  // not known again until the write has succeeded
      std::uint64_t seq = kept_->seq;
      std::string prev = kept_->prev;
      std::vector<json::object> records;
      std::string text = format_batch(entries, time, kept_->actor, seq, prev, records, nullptr);
      append_text(kept_->log->fd(), text, path_);
      kept_->seq = seq;
      kept_->prev = std::move(prev);
      kept_->size_left = end + static_cast<off_t>(text.size());
      return ChainedLog::Unsynced(kept_->log, kept_->sync_failed);
    }
  } catch (...) {
    kept_.reset();
    throw;
  }
}

namespace {
// A record whose own hash matches its content (whatever its place in the chain).
bool intact(std::string_view line) {
  std::size_t hash_at = line.rfind(kHashField);
  if (hash_at == std::string_view::npos || line.size() != hash_at + kHashField.size() + 64 + 2) return false;
  try {
    auto hash = string_field(parse_record(line), "hash");
    return hash && *hash == hash_of_line(std::string(line.substr(0, hash_at)) + "}");
  } catch (const Error&) {
    return false;
  }
}
}  // namespace

bool damage_is_at_tail(const std::vector<std::string>& lines, const ChainFault& fault) {
  for (std::size_t i = fault.line - 1; i < lines.size(); ++i) {
    if (intact(lines[i])) return false;
  }
  return fault.line >= 1 && fault.line <= lines.size();
}

std::optional<TailRepair> ChainedLog::repair_tail() const {
  FileLock lock(path_);
  std::optional<TrustedFile> file = open_trusted_if_exists(path_);
  if (!file) return std::nullopt;
  std::string content = file->read();
  std::vector<std::string> lines;
  std::vector<std::size_t> offsets;
  std::size_t start = 0;
  for (std::size_t newline; (newline = content.find('\n', start)) != std::string::npos; start = newline + 1) {
    offsets.push_back(start);
    lines.push_back(content.substr(start, newline - start));
  }
  std::optional<ChainFault> fault = verify_chain(lines);
  if (!fault) return std::nullopt;
  if (!damage_is_at_tail(lines, *fault)) {
    throw integrity_failed(path_.string() + ": line " + std::to_string(fault->line) + " " + fault->problem +
                           ", and intact records follow it: not a damaged tail; restore the file from a copy");
  }
  std::size_t cut = offsets[fault->line - 1];
  TailRepair repair{fault->line, lines.size(), path_};
  repair.moved_to += ".damaged-" + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                      std::chrono::system_clock::now().time_since_epoch()).count()) +
                     "-" + std::to_string(::getpid());
  // Evidence first, durable, beside the log; only then is the log cut back.
  write_new_file(repair.moved_to, std::string_view(content).substr(cut), fs::perms::owner_read | fs::perms::owner_write);
  UniqueFd writable(::open(("/proc/self/fd/" + std::to_string(file->fd())).c_str(), O_WRONLY | O_CLOEXEC));
  if (!writable || ::ftruncate(writable.get(), static_cast<off_t>(cut)) != 0 || ::fsync(writable.get()) != 0) {
    throw file_error("cannot cut the damaged tail off " + errno_text(path_) + " (it is copied to " +
                     repair.moved_to.string() + ")");
  }
  return repair;
}

std::vector<std::string> ChainedLog::read_lines() const {
  std::vector<std::string> lines;
  std::optional<TrustedFile> file = open_trusted_if_exists(path_);
  if (!file) return lines;
  return split_lines(file->read());
}

std::optional<ChainFault> verify_chain(const std::vector<std::string>& lines) {
  std::string expected_prev = kGenesisPrev;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    ChainFault fault{i + 1, std::nullopt, {}};
    json::object record;
    try {
      record = parse_record(line);
    } catch (const Error&) {
      fault.problem = "is not a JSON object";
      return fault;
    }
    if (const json::value* seq = record.if_contains("seq"); seq && seq->is_int64()) {
      fault.seq = static_cast<std::uint64_t>(seq->as_int64());
    }
    std::size_t hash_at = line.rfind(kHashField);
    auto hash = string_field(record, "hash");
    if (hash_at == std::string::npos || !hash ||
        line.size() != hash_at + kHashField.size() + 64 + 2) {
      fault.problem = "has no hash field at its end";
      return fault;
    }
    if (hash_of_line(line.substr(0, hash_at) + "}") != *hash) {
      fault.problem = "was altered: its content does not match its hash";
      return fault;
    }
    if (fault.seq != i + 1) {
      fault.problem = "has seq " + (fault.seq ? std::to_string(*fault.seq) : "missing") +
                      ", expected " + std::to_string(i + 1);
      return fault;
    }
    if (string_field(record, "prev") != expected_prev) {
      fault.problem = "does not follow the record before it (prev does not match)";
      return fault;
    }
    auto time = string_field(record, "time");
    if (!time || !parse_rfc3339(*time) || !string_field(record, "event")) {
      fault.problem = "lacks a valid time or event";
      return fault;
    }
    expected_prev = hash_of_line(line);
  }
  return std::nullopt;
}

}  // namespace brokerkey
