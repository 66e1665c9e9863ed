#include "fastbert/train/local_ranks.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "fastbert/common/error.h"

extern char** environ;

namespace fastbert {

namespace {

std::atomic<int> forwarded_signal{0};
std::atomic<int> signal_sender{0};
void remember_signal(int sig, siginfo_t* info, void*) {
  signal_sender = info ? static_cast<int>(info->si_pid) : 0;
  forwarded_signal = sig;
}

// A port that was free a moment ago on the loopback interface. Another
// program could take it before rank 0 binds it; rank 0 then fails to
// rendezvous with a message saying so, which is rare enough to accept
// (torchrun's standalone mode does the same).
int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) throw Error(std::string("cannot find a free port on 127.0.0.1: ") + std::strerror(err));
  return ntohs(a.sin_port);
}

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status)) + ")";
  return "stopped with wait status " + std::to_string(status);
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

std::vector<std::string> without_nproc_option(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nproc") {
      ++i;  // and its value
      continue;
    }
    if (args[i].rfind("--nproc=", 0) == 0) continue;
    out.push_back(args[i]);
  }
  return out;
}

int run_local_ranks(int nproc, const std::vector<std::string>& argv, std::chrono::milliseconds grace) {
  if (std::getenv("RANK") || std::getenv("WORLD_SIZE"))
    throw Error("--nproc starts the ranks itself, but RANK/WORLD_SIZE are already set (this process is a rank of a "
                "run that torchrun or another launcher started): drop --nproc");
  const int port = free_loopback_port();
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);

  struct sigaction sa {};
  sa.sa_sigaction = remember_signal;
  sa.sa_flags = SA_SIGINFO;
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  std::vector<pid_t> pids(static_cast<std::size_t>(nproc), 0);
  auto stop_all = [&](int sig) {
    for (pid_t p : pids)
      if (p > 0) ::kill(p, sig);
  };
  for (int r = 0; r < nproc; ++r) {
    std::vector<std::string> env = env_strings;
    for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
             {"RANK", std::to_string(r)},
             {"LOCAL_RANK", std::to_string(r)},
             {"WORLD_SIZE", std::to_string(nproc)},
             {"LOCAL_WORLD_SIZE", std::to_string(nproc)},
             {"MASTER_ADDR", "127.0.0.1"},
             {"MASTER_PORT", std::to_string(port)}})
      env.push_back(k + "=" + v);
    std::vector<char*> cenv, cargv;
    for (auto& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    std::vector<std::string> args = argv;
    for (auto& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_t pid = 0;
    if (int rc = ::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, cargv.data(), cenv.data()); rc != 0) {
      stop_all(SIGKILL);
      for (pid_t p : pids)
        if (p > 0) ::waitpid(p, nullptr, 0);
      throw Error("cannot start rank " + std::to_string(r) + ": " + std::strerror(rc));
    }
    pids[static_cast<std::size_t>(r)] = pid;
  }

  int result = 0, running = nproc;
  bool failed = false;
  std::chrono::steady_clock::time_point kill_at{};
  while (running > 0) {
    if (int sig = forwarded_signal.exchange(0); sig) {
      std::fprintf(stderr, "fastbert-train: signal %d (%s) from pid %d; passing it on to the %d ranks\n", sig,
                   ::strsignal(sig), signal_sender.load(), running);
      stop_all(sig);
      if (!failed) result = 128 + sig;
      failed = true;
      kill_at = std::chrono::steady_clock::now() + grace;
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (int r = 0; r < nproc; ++r) {
        if (pids[static_cast<std::size_t>(r)] != pid) continue;
        pids[static_cast<std::size_t>(r)] = 0;
        --running;
        const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok && !failed) {
          failed = true;
          result = exit_code(status);
          std::fprintf(stderr, "error: rank %d (pid %d) %s; stopping the other %d rank(s)\n", r, static_cast<int>(pid),
                       describe(status).c_str(), running);
          stop_all(SIGTERM);
          kill_at = std::chrono::steady_clock::now() + grace;
        }
      }
      continue;
    }
    if (pid < 0 && errno != EINTR && errno != ECHILD) throw Error(std::string("waitpid: ") + std::strerror(errno));
    if (failed && std::chrono::steady_clock::now() >= kill_at) stop_all(SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return result;
}

}  // namespace fastbert
