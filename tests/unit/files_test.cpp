#define BOOST_TEST_MODULE files
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include <boost/test/unit_test.hpp>
#include <fstream>

#include "core/error.h"
#include "core/files.h"
#include "temp_dir.h"

using namespace brokerkey;

namespace {
void write_with_mode(const fs::path& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}
std::string error_of(const fs::path& path) {
  try {
    read_secret_file(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

BOOST_AUTO_TEST_CASE(private_pin_file_is_read_without_its_newline) {
  TempDir dir;
  write_with_mode(dir.path() / "pin", "s3cret\n", 0600);
  BOOST_TEST(read_secret_file(dir.path() / "pin").view() == "s3cret");
}

BOOST_AUTO_TEST_CASE(pin_file_readable_by_others_is_refused) {
  TempDir dir;
  for (mode_t mode : {0640, 0604, 0660, 0644, 0610}) {
    write_with_mode(dir.path() / "pin", "s3cret\n", mode);
    std::string error = error_of(dir.path() / "pin");
    BOOST_TEST((error.find("chmod 600") != std::string::npos ||
                error.find("must not be writable by group or others") != std::string::npos),
               mode << ": " << error);
  }
}

BOOST_AUTO_TEST_CASE(pin_file_of_another_user_is_refused) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("only root can read another user's 0600 file; nothing to refuse here");
    return;
  }
  TempDir dir;
  write_with_mode(dir.path() / "pin", "s3cret\n", 0600);
  BOOST_REQUIRE(::chown((dir.path() / "pin").c_str(), 65534, 65534) == 0);
  BOOST_TEST(error_of(dir.path() / "pin").find("is owned by uid 65534, not by this user (uid 0)") != std::string::npos);
}

// Symlinks are resolved by the trusted walk (each component checked): a link in a trusted
// directory to a good PIN file reads; empty and missing files are refused.
BOOST_AUTO_TEST_CASE(pin_file_symlink_is_followed_empty_or_missing_is_refused) {
  TempDir dir;
  write_with_mode(dir.path() / "pin", "s3cret\n", 0600);
  fs::create_symlink(dir.path() / "pin", dir.path() / "link");
  BOOST_TEST(read_secret_file(dir.path() / "link").view() == "s3cret");
  write_with_mode(dir.path() / "empty", "\n", 0600);
  BOOST_TEST(error_of(dir.path() / "empty").find("empty") != std::string::npos);
  BOOST_TEST(error_of(dir.path() / "missing").find("missing") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(replace_file_is_atomic_and_sets_the_mode) {
  TempDir dir;
  fs::path path = dir.path() / "conf";
  replace_file(path, "one", fs::perms::owner_read | fs::perms::owner_write);
  replace_file(path, "two", fs::perms::owner_read | fs::perms::owner_write);
  BOOST_TEST(read_text_file(path) == "two");
  BOOST_TEST(permission_bits(path) == 0600u);
  BOOST_TEST(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
}

BOOST_AUTO_TEST_CASE(replace_file_through_a_symlink_replaces_its_target) {
  // A configuration linked from another directory (/etc/brokerkey/brokerkey.conf to the
  // broker's own): the link stays, the file it names gets the new content, and nothing is
  // written in the link's directory, which the writer may not be allowed to write.
  TempDir dir;
  fs::create_directory(dir.path() / "broker");
  fs::create_directory(dir.path() / "etc");
  fs::path real = dir.path() / "broker" / "conf";
  fs::path link = dir.path() / "etc" / "conf";
  replace_file(real, "one", fs::perms::owner_read | fs::perms::owner_write);
  fs::create_symlink(real, link);
  fs::permissions(dir.path() / "etc", fs::perms::owner_read | fs::perms::owner_exec);
  replace_file(link, "two", fs::perms::owner_read | fs::perms::owner_write);
  fs::permissions(dir.path() / "etc", fs::perms::owner_all);
  BOOST_TEST(fs::is_symlink(link));
  BOOST_TEST(read_text_file(real) == "two");
  BOOST_TEST(std::distance(fs::directory_iterator(dir.path() / "broker"), fs::directory_iterator()) == 1);
  BOOST_TEST(std::distance(fs::directory_iterator(dir.path() / "etc"), fs::directory_iterator()) == 1);
}

BOOST_AUTO_TEST_CASE(write_new_file_never_replaces) {
  TempDir dir;
  write_new_file(dir.path() / "f", "a", fs::perms::owner_read);
  BOOST_CHECK_THROW(write_new_file(dir.path() / "f", "b", fs::perms::owner_read), Error);
  BOOST_TEST(read_text_file(dir.path() / "f") == "a");
  // Without the fsync (a drop-in's FILE.sig) the same rules hold: the content, exactly the
  // mode asked for, and never over an existing file.
  auto mode = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read;
  write_new_file(dir.path() / "g.sig", "signature", mode, Durable::no);
  BOOST_TEST(read_text_file(dir.path() / "g.sig") == "signature");
  BOOST_TEST((fs::status(dir.path() / "g.sig").permissions() == mode));
  BOOST_CHECK_THROW(write_new_file(dir.path() / "g.sig", "other", mode, Durable::no), Error);
  BOOST_TEST(read_text_file(dir.path() / "g.sig") == "signature");
}

BOOST_AUTO_TEST_CASE(secret_is_movable_not_copyable) {
  static_assert(!std::is_copy_constructible_v<Secret>);
  Secret a("pin");
  Secret b(std::move(a));
  BOOST_TEST(b.view() == "pin");
  BOOST_TEST(a.view().empty());
}

// --- The trust rule (open_trusted, check_trusted_directory) ---------------------------------

namespace {

std::string trusted_error(const fs::path& path) {
  try {
    open_trusted(path).read();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A real account made for one test and removed after it (root only).
class TestUser {
 public:
  TestUser() : name_("bktest" + std::to_string(::getpid() % 100000)) {
    std::string command = "useradd -M -r -s /usr/sbin/nologin " + name_ + " 2>/dev/null";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("useradd failed");
    struct passwd* entry = ::getpwnam(name_.c_str());
    if (!entry) throw std::runtime_error("no such user after useradd");
    uid_ = entry->pw_uid;
    gid_ = entry->pw_gid;
  }
  TestUser(const TestUser&) = delete;
  TestUser& operator=(const TestUser&) = delete;
  ~TestUser() { [[maybe_unused]] int ignored = std::system(("userdel " + name_ + " 2>/dev/null").c_str()); }
  uid_t uid() const { return uid_; }
  gid_t gid() const { return gid_; }
  void own(const fs::path& path) const { BOOST_REQUIRE(::lchown(path.c_str(), uid_, gid_) == 0); }

 private:
  std::string name_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

bool as_root() {
  if (::geteuid() == 0) return true;
  BOOST_TEST_MESSAGE("needs root (useradd, chown): skipped for this user");
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(trusted_file_is_read_through_the_descriptor_it_checked) {
  TempDir dir;
  write_with_mode(dir.path() / "conf", "content", 0600);
  TrustedFile file = open_trusted(dir.path() / "conf");
  fs::rename(dir.path() / "conf", dir.path() / "moved");
  write_with_mode(dir.path() / "conf", "other", 0600);
  BOOST_TEST(file.read() == "content");  // the file checked, not the name
  BOOST_TEST(!open_trusted_if_exists(dir.path() / "missing"));
  BOOST_TEST(trusted_error(dir.path() / "missing").find("No such file") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(file_writable_by_others_or_not_regular_is_refused) {
  TempDir dir;
  for (mode_t mode : {0620, 0602, 0666}) {
    write_with_mode(dir.path() / "conf", "x", mode);
    BOOST_TEST(trusted_error(dir.path() / "conf").find("must not be writable by group or others") != std::string::npos);
  }
  BOOST_REQUIRE(::mkfifo((dir.path() / "fifo").c_str(), 0600) == 0);
  BOOST_TEST(trusted_error(dir.path() / "fifo").find("not a regular file") != std::string::npos);
  fs::create_directory(dir.path() / "sub");
  BOOST_TEST(trusted_error(dir.path() / "sub").find("not a regular file") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(group_or_world_writable_directory_on_the_path_is_refused) {
  TempDir dir;
  fs::create_directories(dir.path() / "a/b");
  write_with_mode(dir.path() / "a/b/conf", "x", 0600);
  BOOST_TEST(trusted_error(dir.path() / "a/b/conf").empty());
  for (mode_t mode : {0775, 0757, 0777}) {
    ::chmod((dir.path() / "a").c_str(), mode);
    std::string error = trusted_error(dir.path() / "a/b/conf");
    BOOST_TEST(error.find((dir.path() / "a").string() + " (on the path to") != std::string::npos, error);
    BOOST_TEST(error.find("must not be writable by group or others") != std::string::npos, error);
    BOOST_CHECK_THROW(check_trusted_directory(dir.path() / "a/b"), Error);
  }
  // Sticky: passes, as /tmp does, when what is inside is ours.
  ::chmod((dir.path() / "a").c_str(), 01777);
  BOOST_TEST(trusted_error(dir.path() / "a/b/conf").empty());
  BOOST_CHECK_NO_THROW(check_trusted_directory(dir.path() / "a/b"));
  // Relative paths and ".." are walked from "/" too.
  fs::path cwd = fs::current_path();
  fs::current_path(dir.path() / "a/b");
  BOOST_TEST(open_trusted("../b/./conf").read() == "x");
  fs::current_path(cwd);
}

// open_trusted_in: a file in a directory checked once, by the same rule as open_trusted.
BOOST_AUTO_TEST_CASE(file_in_a_checked_directory_follows_the_same_rule) {
  TempDir dir;
  fs::create_directories(dir.path() / "d");
  UniqueFd d = check_trusted_directory(dir.path() / "d");
  auto error_in = [&](const std::string& name, TrustedOpen how = TrustedOpen::read) {
    try {
      open_trusted_in(d.get(), dir.path() / "d", name, how);
      return std::string();
    } catch (const Error& e) {
      return std::string(e.what());
    }
  };
  write_with_mode(dir.path() / "d/conf", "content", 0600);
  TrustedFile file = open_trusted_in(d.get(), dir.path() / "d", "conf");
  BOOST_TEST(file.read() == "content");
  BOOST_TEST(file.path() == dir.path() / "d/conf");
  // Appending creates the file with mode 0600 in the checked directory.
  TrustedFile log = open_trusted_in(d.get(), dir.path() / "d", "log", TrustedOpen::append);
  BOOST_TEST((log.info().st_mode & 07777) == 0600u);
  BOOST_TEST(error_in("missing").find("No such file") != std::string::npos);
  for (mode_t mode : {0620, 0602}) {
    write_with_mode(dir.path() / "d/conf", "x", mode);
    BOOST_TEST(error_in("conf").find("must not be writable by group or others") != std::string::npos);
  }
  fs::create_directory(dir.path() / "d/sub");
  BOOST_TEST(error_in("sub").find("not a regular file") != std::string::npos);
  for (std::string name : {"", ".", "..", "sub/conf"}) BOOST_TEST(!error_in(name).empty(), name);
  // A link is walked from "/" as open_trusted walks it: refused into a directory others write.
  write_with_mode(dir.path() / "d/sub/conf", "inner", 0600);
  fs::create_symlink("sub/conf", dir.path() / "d/link");
  BOOST_TEST(open_trusted_in(d.get(), dir.path() / "d", "link").read() == "inner");
  fs::create_directories(dir.path() / "open");
  ::chmod((dir.path() / "open").c_str(), 0777);
  write_with_mode(dir.path() / "open/conf", "evil", 0600);
  fs::create_symlink(dir.path() / "open/conf", dir.path() / "d/evil");
  BOOST_TEST(error_in("evil").find("must not be writable") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(symlinks_are_followed_component_by_component) {
  TempDir dir;
  fs::create_directories(dir.path() / "real/sub");
  write_with_mode(dir.path() / "real/sub/conf", "x", 0600);
  fs::create_directory_symlink("real", dir.path() / "rel");
  fs::create_directory_symlink(dir.path() / "real/sub", dir.path() / "abs");
  fs::create_symlink("sub/conf", dir.path() / "real/link");
  BOOST_TEST(open_trusted(dir.path() / "rel/sub/conf").read() == "x");
  BOOST_TEST(open_trusted(dir.path() / "abs/conf").read() == "x");
  BOOST_TEST(open_trusted(dir.path() / "rel/link").read() == "x");
  BOOST_CHECK_NO_THROW(check_trusted_directory(dir.path() / "abs"));
  // A link into a directory others can write is refused there.
  fs::create_directories(dir.path() / "open");
  ::chmod((dir.path() / "open").c_str(), 0777);
  write_with_mode(dir.path() / "open/conf", "evil", 0600);
  fs::create_symlink(dir.path() / "open/conf", dir.path() / "real/evil");
  BOOST_TEST(trusted_error(dir.path() / "real/evil").find("must not be writable") != std::string::npos);
  // Loops end.
  fs::create_symlink("loop", dir.path() / "loop");
  BOOST_TEST(trusted_error(dir.path() / "loop").find("too many symbolic links") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(another_users_file_directory_or_link_is_refused) {
  if (!as_root()) return;
  TestUser other;
  TempDir dir;
  fs::create_directories(dir.path() / "d");
  write_with_mode(dir.path() / "d/conf", "x", 0600);
  other.own(dir.path() / "d/conf");
  BOOST_TEST(trusted_error(dir.path() / "d/conf").find("is owned by uid " + std::to_string(other.uid())) != std::string::npos);
  BOOST_REQUIRE(::chown((dir.path() / "d/conf").c_str(), 0, 0) == 0);
  other.own(dir.path() / "d");
  BOOST_TEST(trusted_error(dir.path() / "d/conf").find("directory " + (dir.path() / "d").string()) != std::string::npos);
  BOOST_CHECK_THROW(check_trusted_directory(dir.path() / "d"), Error);
}

BOOST_AUTO_TEST_CASE(sticky_directory_passes_only_entries_of_this_user_or_root) {
  if (!as_root()) return;
  TestUser other;
  TempDir dir;
  fs::path sticky = dir.path() / "tmp";
  fs::create_directories(sticky / "mine");
  ::chmod(sticky.c_str(), 01777);
  write_with_mode(sticky / "mine/conf", "x", 0600);
  write_with_mode(sticky / "conf", "x", 0600);
  BOOST_TEST(trusted_error(sticky / "mine/conf").empty());
  BOOST_TEST(trusted_error(sticky / "conf").empty());
  // Another user's entry inside the sticky directory: a file, a directory, a symlink.
  other.own(sticky / "conf");
  BOOST_TEST(trusted_error(sticky / "conf").find("is owned by uid") != std::string::npos);
  other.own(sticky / "mine");
  BOOST_TEST(trusted_error(sticky / "mine/conf").find("is owned by uid") != std::string::npos);
  BOOST_CHECK_THROW(check_trusted_directory(sticky / "mine"), Error);
  BOOST_REQUIRE(::chown((sticky / "mine").c_str(), 0, 0) == 0);
  fs::create_symlink(sticky / "mine/conf", sticky / "link");
  BOOST_TEST(open_trusted(sticky / "link").read() == "x");
  other.own(sticky / "link");
  BOOST_TEST(trusted_error(sticky / "link").find("symbolic link") != std::string::npos);
  // A sticky directory owned by another user is not trusted either.
  other.own(sticky);
  BOOST_TEST(trusted_error(sticky / "mine/conf").find("is owned by uid") != std::string::npos);
}

// The attack of issue 11: a user who can write a directory above the file swaps a symlink
// between a good file and their own while the file is loaded again and again. Their file must
// never be accepted (here every load through their directory is refused).
BOOST_AUTO_TEST_CASE(symlink_swap_race_never_yields_the_attackers_file) {
  if (!as_root()) return;
  TestUser attacker;
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  fs::create_directories(dir.path() / "good");
  write_with_mode(dir.path() / "good/conf", "good", 0644);
  fs::create_directories(dir.path() / "attacker/evil");
  write_with_mode(dir.path() / "attacker/evil/conf", "evil", 0644);
  fs::create_directory_symlink(dir.path() / "good", dir.path() / "attacker/link");
  attacker.own(dir.path() / "attacker");
  attacker.own(dir.path() / "attacker/evil");
  attacker.own(dir.path() / "attacker/evil/conf");
  attacker.own(dir.path() / "attacker/link");
  // The same race through a sticky directory the attacker can create entries in.
  fs::path sticky = dir.path() / "sticky";
  fs::create_directory(sticky);
  ::chmod(sticky.c_str(), 01777);

  pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    if (::setgid(attacker.gid()) != 0 || ::setuid(attacker.uid()) != 0) ::_exit(1);
    fs::path link = dir.path() / "attacker/link", next = dir.path() / "attacker/next";
    fs::path sticky_link = sticky / "conf", sticky_next = sticky / "next";
    for (unsigned i = 0;; ++i) {
      fs::path target = i % 2 ? dir.path() / "good" : dir.path() / "attacker/evil";
      ::symlink(target.c_str(), next.c_str());
      ::rename(next.c_str(), link.c_str());
      fs::path file = i % 2 ? dir.path() / "good/conf" : dir.path() / "attacker/evil/conf";
      ::symlink(file.c_str(), sticky_next.c_str());
      ::rename(sticky_next.c_str(), sticky_link.c_str());
    }
  }
  int accepted = 0, refused = 0;
  for (int i = 0; i < 3000; ++i) {
    for (const fs::path& path : {dir.path() / "attacker/link/conf", sticky / "conf"}) {
      try {
        std::string content = open_trusted(path).read();
        BOOST_REQUIRE(content != "evil");
        ++accepted;
      } catch (const Error&) {
        ++refused;
      }
    }
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  BOOST_TEST(accepted == 0);
  BOOST_TEST(refused == 6000);
  // The good file itself still loads.
  BOOST_TEST(open_trusted(dir.path() / "good/conf").read() == "good");
}
