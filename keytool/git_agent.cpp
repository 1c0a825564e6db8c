#include "git_agent.h"

#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdio>

namespace brokerkey {

std::optional<std::string> git_configured_agent() {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return std::nullopt;
  pid_t child = ::fork();
  if (child < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return std::nullopt;
  }
  if (child == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    execlp("git", "git", "config", "--get", kGitAgentKey, static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(pipe_fds[1]);
  std::string value;
  char buffer[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (value.size() < 4096) value.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (value.empty() || value.front() != '/' || value.size() >= 108 ||
      value.find_first_of(std::string("\n\0", 2)) != std::string::npos) {
    return std::nullopt;
  }
  return value;
}

}  // namespace brokerkey
