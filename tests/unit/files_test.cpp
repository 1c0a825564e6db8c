#define BOOST_TEST_MODULE files
#include <sys/stat.h>
#include <unistd.h>

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
    BOOST_TEST(error_of(dir.path() / "pin").find("chmod 600") != std::string::npos, mode);
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

BOOST_AUTO_TEST_CASE(pin_file_symlink_empty_or_missing_is_refused) {
  TempDir dir;
  write_with_mode(dir.path() / "pin", "s3cret\n", 0600);
  fs::create_symlink(dir.path() / "pin", dir.path() / "link");
  BOOST_TEST(!error_of(dir.path() / "link").empty());
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
  struct stat info {};
  ::stat(path.c_str(), &info);
  BOOST_TEST((info.st_mode & 0777) == 0600u);
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
}

BOOST_AUTO_TEST_CASE(secret_is_movable_not_copyable) {
  static_assert(!std::is_copy_constructible_v<Secret>);
  Secret a("pin");
  Secret b(std::move(a));
  BOOST_TEST(b.view() == "pin");
  BOOST_TEST(a.view().empty());
}
