#define BOOST_TEST_MODULE chained_log
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <fstream>

#include "core/chained_log.h"
#include "core/error.h"
#include "core/files.h"
#include "temp_dir.h"

using namespace brokerkey;

namespace {
const TimePoint kT0 = *parse_rfc3339("2026-01-01T00:00:00Z");

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_all(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}
}  // namespace

BOOST_AUTO_TEST_CASE(records_chain_and_verify) {
  TempDir dir;
  ChainedLog log(dir.path() / "log.jsonl");
  auto first = log.append("init", {{"x", 1}}, kT0);
  auto second = log.append("note", {{"y", "z"}}, kT0 + Days(1));
  BOOST_TEST(first.at("seq").to_number<std::int64_t>() == 1);
  BOOST_TEST(second.at("seq").to_number<std::int64_t>() == 2);
  BOOST_TEST(first.at("prev").as_string() == kGenesisPrev);
  auto lines = log.read_lines();
  BOOST_REQUIRE(lines.size() == 2u);
  BOOST_TEST(second.at("prev").as_string() == hash_of_line(lines[0]));
  BOOST_TEST(!verify_chain(lines));
  BOOST_TEST(parse_record(lines[1]).at("time").as_string() == "2026-01-02T00:00:00Z");
  BOOST_TEST(permission_bits(log.path()) == 0600u);
}

BOOST_AUTO_TEST_CASE(every_single_byte_change_names_its_record) {
  TempDir dir;
  ChainedLog log(dir.path() / "log.jsonl");
  for (int i = 0; i < 3; ++i) log.append("note", {{"i", i}}, kT0);
  std::string original = read_all(log.path());
  std::size_t second_start = original.find('\n') + 1;
  std::size_t third_start = original.find('\n', second_start) + 1;
  for (std::size_t at = 0; at < original.size(); ++at) {
    if (original[at] == '\n') continue;
    std::string changed = original;
    changed[at] = changed[at] == 'a' ? 'b' : 'a';
    write_all(log.path(), changed);
    auto fault = verify_chain(log.read_lines());
    BOOST_REQUIRE_MESSAGE(fault, "byte " << at << " changed undetected");
    std::size_t expected_line = at < second_start ? 1 : at < third_start ? 2 : 3;
    BOOST_TEST(fault->line == expected_line, "byte " << at << ": " << fault->problem);
  }
}

BOOST_AUTO_TEST_CASE(removed_or_reordered_records_are_detected) {
  TempDir dir;
  ChainedLog log(dir.path() / "log.jsonl");
  for (int i = 0; i < 3; ++i) log.append("note", {{"i", i}}, kT0);
  auto lines = log.read_lines();
  auto fault = verify_chain({lines[0], lines[2]});
  BOOST_REQUIRE(fault);
  BOOST_TEST(fault->line == 2u);
  fault = verify_chain({lines[1], lines[0], lines[2]});
  BOOST_REQUIRE(fault);
  BOOST_TEST(fault->line == 1u);
}

BOOST_AUTO_TEST_CASE(torn_tail_is_ignored_by_readers_and_removed_by_the_next_writer) {
  TempDir dir;
  ChainedLog log(dir.path() / "log.jsonl");
  log.append("note", {{"i", 1}}, kT0);
  std::string intact = read_all(log.path());
  write_all(log.path(), intact + "{\"seq\":2,\"time\":\"20");
  BOOST_TEST(log.read_lines().size() == 1u);
  log.append("note", {{"i", 2}}, kT0);
  auto lines = log.read_lines();
  BOOST_TEST(lines.size() == 2u);
  BOOST_TEST(!verify_chain(lines));
  BOOST_TEST(read_all(log.path()).rfind(intact, 0) == 0u);
}

BOOST_AUTO_TEST_CASE(validator_refuses_without_writing) {
  TempDir dir;
  ChainedLog log(dir.path() / "log.jsonl");
  log.append("note", {}, kT0);
  std::string before = read_all(log.path());
  BOOST_CHECK_THROW(log.append("note", {}, kT0,
                               [](const std::vector<std::string>& lines) {
                                 BOOST_TEST(lines.size() == 2u);
                                 throw invalid_input("no");
                               }),
                    Error);
  BOOST_TEST(read_all(log.path()) == before);
}

BOOST_AUTO_TEST_CASE(concurrent_writers_lose_nothing) {
  TempDir dir;
  fs::path path = dir.path() / "log.jsonl";
  constexpr int kWriters = 4, kEach = 25;
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ChainedLog log(path);
      for (int i = 0; i < kEach; ++i) log.append("note", {{"writer", w}, {"i", i}}, kT0);
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
  auto lines = ChainedLog(path).read_lines();
  BOOST_TEST(lines.size() == std::size_t{kWriters * kEach});
  BOOST_TEST(!verify_chain(lines));
}

// A full disk, as the file-size limit makes it: the write stops part-way (room for a few bytes)
// or at once (no room). The append fails with its reason and leaves the log as it was.
BOOST_AUTO_TEST_CASE(a_full_disk_fails_the_append_and_keeps_every_record) {
  for (rlim_t room : {rlim_t{0}, rlim_t{20}}) {
    TempDir dir;
    ChainedLog log(dir.path() / "log.jsonl");
    log.append("init", {{"x", 1}}, kT0);
    log.append("note", {{"y", 2}}, kT0);
    std::string before = read_all(log.path());
    pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a signal, as ENOSPC would be
      rlimit limit{before.size() + room, before.size() + room};
      ::setrlimit(RLIMIT_FSIZE, &limit);
      try {
        log.append("note", {{"big", std::string(200, 'x')}}, kT0);
        ::_exit(2);
      } catch (const Error& e) {
        ::_exit(std::string(e.what()).find("cannot append to") != std::string::npos ? 0 : 3);
      }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0, "room " << room << ": child exit " << WEXITSTATUS(status));
    BOOST_TEST(read_all(log.path()) == before, "room " << room << ": the log changed");
    BOOST_TEST(!verify_chain(log.read_lines()));
    log.append("note", {{"after", true}}, kT0);  // with room again, the chain simply continues
    BOOST_TEST(!verify_chain(log.read_lines()));
    BOOST_TEST(log.read_lines().size() == 3u);
  }
}

BOOST_AUTO_TEST_CASE(missing_log_has_no_lines) {
  TempDir dir;
  BOOST_TEST(ChainedLog(dir.path() / "absent.jsonl").read_lines().empty());
}

// --- Issue 11 §4: readers cannot stall writers; bounded waits; a damaged tail is repaired ----

namespace {
// Runs `hold` in a child process that keeps its descriptors until killed.
template <typename Hold>
pid_t holder(Hold hold) {
  int ready[2];
  BOOST_REQUIRE(::pipe(ready) == 0);
  pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    hold();
    char byte = 1;
    [[maybe_unused]] ssize_t n = ::write(ready[1], &byte, 1);
    for (;;) ::pause();
  }
  char byte = 0;
  BOOST_REQUIRE(::read(ready[0], &byte, 1) == 1);
  ::close(ready[0]);
  ::close(ready[1]);
  return child;
}
void stop(pid_t child) {
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A log at `path` in a test's own directory, with one record ("init") written.
struct LogWithItsFirstRecord {
  TempDir dir;
  fs::path path = dir.path() / "log.jsonl";
  ChainedLog log{path};
  LogWithItsFirstRecord() { log.append("init", {}, kT0); }
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(a_reader_holding_every_lock_it_can_take_does_not_stall_writers, LogWithItsFirstRecord) {
  // A reader: read-only descriptors on the log and (had it access) the lock file, with flock
  // and fcntl read locks, as a process that can only read would hold them.
  pid_t reader = holder([&] {
    int fd = ::open(path.c_str(), O_RDONLY);
    ::flock(fd, LOCK_EX);
    struct flock range {};
    range.l_type = F_RDLCK;
    ::fcntl(fd, F_OFD_SETLK, &range);
    fs::path lock = path;
    lock += ".lock";
    int lock_fd = ::open(lock.c_str(), O_RDONLY);
    ::flock(lock_fd, LOCK_EX);
  });
  auto start = std::chrono::steady_clock::now();
  BOOST_CHECK_NO_THROW(log.append("sign", {{"n", 1}}, kT0));
  BOOST_CHECK_NO_THROW(log.append("sign", {{"n", 2}}, kT0));
  BOOST_TEST(seconds_since(start) < 2.0);
  stop(reader);
  BOOST_TEST(log.read_lines().size() == 3u);
  BOOST_TEST(permission_bits(path.string() + ".lock") == 0600u);  // only its owner can open it to lock it
}

BOOST_FIXTURE_TEST_CASE(a_writer_holding_the_lock_too_long_fails_the_append_clearly_in_bounded_time, LogWithItsFirstRecord) {
  pid_t writer = holder([&] {
    int fd = ::open((path.string() + ".lock").c_str(), O_RDWR);
    struct flock range {};
    range.l_type = F_WRLCK;
    if (::fcntl(fd, F_OFD_SETLK, &range) != 0) ::_exit(1);
  });
  auto start = std::chrono::steady_clock::now();
  try {
    log.append("sign", {}, kT0);
    BOOST_FAIL("append succeeded while another writer held the lock");
  } catch (const Error& e) {
    BOOST_TEST(e.rv() == CKR_FUNCTION_FAILED);
    BOOST_TEST(std::string(e.what()).find("another writer has held its lock") != std::string::npos, e.what());
  }
  double waited = seconds_since(start);
  BOOST_TEST(waited >= 4.5);
  BOOST_TEST(waited < 8.0);
  stop(writer);
  BOOST_CHECK_NO_THROW(log.append("sign", {}, kT0));  // released: writers go on
  BOOST_TEST(!verify_chain(log.read_lines()));
}

BOOST_FIXTURE_TEST_CASE(lock_file_others_could_open_is_refused, LogWithItsFirstRecord) {
  ::chmod((path.string() + ".lock").c_str(), 0644);
  try {
    log.append("sign", {}, kT0);
    BOOST_FAIL("a readable lock file was accepted");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("chmod 600") != std::string::npos, e.what());
  }
}

BOOST_FIXTURE_TEST_CASE(damaged_last_line_fails_clearly_and_repair_moves_it_aside, LogWithItsFirstRecord) {
  log.append("sign", {{"n", 1}}, kT0);
  std::string good = read_all(path);
  write_all(path, good + "garbage that is not JSON\n");
  try {
    log.append("sign", {{"n", 2}}, kT0);
    BOOST_FAIL("appended after a damaged last line");
  } catch (const Error& e) {
    BOOST_TEST(e.rv() == CKR_DEVICE_ERROR);
    BOOST_TEST(std::string(e.what()).find("last record (line 3) is not a JSON object") != std::string::npos, e.what());
    BOOST_TEST(std::string(e.what()).find("brokerkey health --repair") != std::string::npos);
  }
  auto fault = verify_chain(log.read_lines());
  BOOST_REQUIRE(fault);
  BOOST_TEST(fault->line == 3u);
  BOOST_TEST(damage_is_at_tail(log.read_lines(), *fault));

  auto repair = log.repair_tail();
  BOOST_REQUIRE(repair);
  BOOST_TEST(repair->first_line == 3u);
  BOOST_TEST(repair->last_line == 3u);
  BOOST_TEST(read_all(repair->moved_to) == "garbage that is not JSON\n");  // evidence kept
  BOOST_TEST(read_all(path) == good);                                     // every good record kept
  BOOST_TEST(!log.repair_tail());
  BOOST_CHECK_NO_THROW(log.append("sign", {{"n", 2}}, kT0));
  BOOST_TEST(!verify_chain(log.read_lines()));
}

BOOST_FIXTURE_TEST_CASE(damage_followed_by_intact_records_is_not_cut, LogWithItsFirstRecord) {
  log.append("sign", {{"n", 1}}, kT0);
  log.append("sign", {{"n", 2}}, kT0);
  std::string text = read_all(path);
  text[text.find("\"n\":1")+4] = '7';  // alter the middle record
  write_all(path, text);
  auto lines = log.read_lines();
  auto fault = verify_chain(lines);
  BOOST_REQUIRE(fault);
  BOOST_TEST(!damage_is_at_tail(lines, *fault));
  BOOST_CHECK_THROW(log.repair_tail(), Error);
  BOOST_TEST(read_all(path) == text);
}

// --- ChainedLogWriter: the log kept open between appends -----------------------------------

namespace {
void write_batch(ChainedLogWriter& writer, int first, int count) {
  std::vector<ChainedLog::Entry> entries;
  for (int i = first; i < first + count; ++i) entries.push_back({"sign", {{"i", i}}});
  writer.written(entries, kT0).sync();
}
std::int64_t seq_of(const std::string& line) { return parse_record(line).at("seq").as_int64(); }
}  // namespace

BOOST_AUTO_TEST_CASE(kept_open_writer_chains_without_reading_its_tail_again) {
  TempDir dir;
  ChainedLogWriter writer(dir.path() / "log.jsonl");
  for (int batch = 0; batch < 20; ++batch) write_batch(writer, batch * 3, 1 + batch % 3);
  ChainedLog log(writer.path());
  auto lines = log.read_lines();
  BOOST_TEST(lines.size() == 39u);
  BOOST_TEST(!verify_chain(lines));
  BOOST_TEST(writer.opens() == 1u);
  BOOST_TEST(writer.tail_reads() == 1u);  // the first batch only (the file was new)
  BOOST_TEST(permission_bits(log.path()) == 0600u);
}

BOOST_AUTO_TEST_CASE(kept_open_writer_follows_another_writer) {
  TempDir dir;
  ChainedLog other(dir.path() / "log.jsonl");
  other.append("init", {{"by", "other"}}, kT0);
  ChainedLogWriter writer(other.path());
  write_batch(writer, 0, 2);
  other.append("note", {{"by", "other"}}, kT0);  // appended behind the writer's back
  write_batch(writer, 2, 1);
  write_batch(writer, 3, 1);
  other.append("note", {{"by", "other"}}, kT0);
  other.append("note", {{"by", "other"}}, kT0);
  write_batch(writer, 4, 2);
  auto lines = other.read_lines();
  BOOST_REQUIRE(lines.size() == 10u);
  BOOST_TEST(!verify_chain(lines));
  for (std::size_t i = 0; i < lines.size(); ++i) BOOST_TEST(seq_of(lines[i]) == static_cast<std::int64_t>(i + 1));
  BOOST_TEST(writer.opens() == 1u);
  BOOST_TEST(writer.tail_reads() == 3u);  // the first batch and the two after the other writer

  // A torn line left by a writer that died: cut off, the chain goes on.
  std::ofstream(other.path(), std::ios::binary | std::ios::app) << "{\"seq\":11,\"torn";
  write_batch(writer, 6, 1);
  lines = other.read_lines();
  BOOST_TEST(lines.size() == 11u);
  BOOST_TEST(!verify_chain(lines));
  BOOST_TEST(read_all(other.path()).back() == '\n');
}

BOOST_AUTO_TEST_CASE(kept_open_writer_opens_a_replaced_log_again) {
  TempDir dir;
  fs::path path = dir.path() / "log.jsonl";
  ChainedLogWriter writer(path);
  write_batch(writer, 0, 2);
  // Replaced by a copy renamed over it: the writer must write to the file at the path, chained.
  write_all(dir.path() / "copy", read_all(path));
  ::chmod((dir.path() / "copy").c_str(), 0600);
  fs::rename(dir.path() / "copy", path);
  write_batch(writer, 2, 1);
  ChainedLog log(path);
  auto lines = log.read_lines();
  BOOST_TEST(lines.size() == 3u);
  BOOST_TEST(!verify_chain(lines));
  BOOST_TEST(writer.opens() == 2u);
  // Moved aside: a new log at the path, from seq 1; the old file untouched.
  fs::rename(path, dir.path() / "old.jsonl");
  write_batch(writer, 3, 1);
  lines = log.read_lines();
  BOOST_REQUIRE(lines.size() == 1u);
  BOOST_TEST(seq_of(lines[0]) == 1);
  BOOST_TEST(!verify_chain(lines));
  BOOST_TEST(ChainedLog(dir.path() / "old.jsonl").read_lines().size() == 3u);
  BOOST_TEST(writer.opens() == 3u);
  // The lock file removed: opened again (a writer that locks the new lock file must exclude
  // this one).
  fs::remove(dir.path() / "log.jsonl.lock");
  write_batch(writer, 4, 1);
  BOOST_TEST(writer.opens() == 4u);
  BOOST_TEST(fs::exists(dir.path() / "log.jsonl.lock"));
  BOOST_TEST(!verify_chain(log.read_lines()));
}

BOOST_AUTO_TEST_CASE(kept_open_writer_fails_closed) {
  TempDir dir;
  fs::path path = dir.path() / "log.jsonl";
  ChainedLogWriter writer(path);
  write_batch(writer, 0, 1);
  std::string before = read_all(path);
  // The log made writable by its group, or the lock file readable by others: nothing written.
  ::chmod(path.c_str(), 0620);
  BOOST_CHECK_THROW(write_batch(writer, 1, 1), Error);
  BOOST_TEST(read_all(path) == before);
  ::chmod(path.c_str(), 0600);
  ::chmod((dir.path() / "log.jsonl.lock").c_str(), 0644);
  BOOST_CHECK_THROW(write_batch(writer, 1, 1), Error);
  BOOST_TEST(read_all(path) == before);
  ::chmod((dir.path() / "log.jsonl.lock").c_str(), 0600);
  // Its directory made writable by its group: refused as the trusted walk refuses it.
  struct stat dir_info {};
  ::stat(dir.path().c_str(), &dir_info);
  ::chmod(dir.path().c_str(), 0770);
  try {
    write_batch(writer, 1, 1);
    BOOST_FAIL("a batch was written in a group-writable directory");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("must not be writable by group or others") != std::string::npos, e.what());
  }
  BOOST_TEST(read_all(path) == before);
  ::chmod(dir.path().c_str(), dir_info.st_mode & 07777);
  // A damaged last record (written by someone else): refused, as ChainedLog refuses it.
  write_all(path, before + "{\"seq\":2,\"broken\"}\n");
  ::chmod(path.c_str(), 0600);
  BOOST_CHECK_THROW(write_batch(writer, 1, 1), Error);
  write_all(path, before);
  write_batch(writer, 1, 1);
  BOOST_TEST(!verify_chain(ChainedLog(path).read_lines()));
  BOOST_TEST(ChainedLog(path).read_lines().size() == 2u);
}

BOOST_AUTO_TEST_CASE(kept_open_writer_holds_the_writers_lock_only_while_it_writes) {
  TempDir dir;
  fs::path path = dir.path() / "log.jsonl";
  ChainedLogWriter writer(path);
  write_batch(writer, 0, 1);
  // Released after the batch: another writer does not wait for it.
  ChainedLog other(path);
  auto start = std::chrono::steady_clock::now();
  other.append("note", {}, kT0);
  BOOST_TEST(seconds_since(start) < 2.0);
  // Another writer holding the lock: the batch fails clearly in bounded time, nothing written.
  std::string before = read_all(path);
  pid_t holding = holder([&] {
    int fd = ::open((path.string() + ".lock").c_str(), O_RDWR);
    struct flock range {};
    range.l_type = F_WRLCK;
    if (::fcntl(fd, F_OFD_SETLK, &range) != 0) ::_exit(1);
  });
  start = std::chrono::steady_clock::now();
  try {
    write_batch(writer, 1, 1);
    BOOST_FAIL("a batch was written while another writer held the lock");
  } catch (const Error& e) {
    BOOST_TEST(e.rv() == CKR_FUNCTION_FAILED);
  }
  BOOST_TEST(seconds_since(start) >= 4.5);
  BOOST_TEST(read_all(path) == before);
  stop(holding);
  write_batch(writer, 1, 1);
  auto lines = ChainedLog(path).read_lines();
  BOOST_TEST(lines.size() == 3u);
  BOOST_TEST(!verify_chain(lines));
}
