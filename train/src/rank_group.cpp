#include "fastbert/train/rank_group.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#ifdef FASTBERT_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "fastbert/common/error.h"

namespace fastbert {

bool comm_backend_available(CommBackend b) {
#ifdef FASTBERT_WITH_NCCL
  return true;
#else
  return b == CommBackend::Gloo;
#endif
}

namespace {

std::string ms_text(std::chrono::milliseconds t) {
  const auto ms = t.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// c10::Error's what() carries a C++ backtrace; the message alone is what a user needs.
std::string message_of(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) {
    std::string m = c10->what_without_backtrace();
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
  }
  return e.what();
}

// The address this host uses to reach `host`: the one Gloo must listen on so
// that the other ranks can connect back (the loopback address for a local
// run, the veth or NIC address on the way to rank 0 otherwise). Connecting a
// UDP socket sends nothing; it only asks the kernel for the route.
std::string local_address_towards(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
    throw Error("MASTER_ADDR " + host + ": cannot be resolved (" + ::gai_strerror(rc) + ")");
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(found, ::freeaddrinfo);
  const int fd = ::socket(found->ai_family, SOCK_DGRAM, 0);
  if (fd < 0) throw Error(std::string("socket: ") + std::strerror(errno));
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  const bool ok = ::connect(fd, found->ai_addr, found->ai_addrlen) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) throw Error("MASTER_ADDR " + host + ": no route to it from this host (" + std::strerror(err) + ")");
  char text[INET6_ADDRSTRLEN] = {};
  const void* addr = local.ss_family == AF_INET6
                         ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&local)->sin6_addr)
                         : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&local)->sin_addr);
  ::inet_ntop(local.ss_family, addr, text, sizeof(text));
  return text;
}

std::string fault_key(int rank) { return "fastbert/fault-answer/" + std::to_string(rank); }

}  // namespace

// LibTorch 2 made ProcessGroupGloo and ProcessGroupNCCL Backends behind a
// dispatching ProcessGroup; 1.13's (Debian's) are ProcessGroups themselves.
// Both have the collectives used here.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

struct RankGroup::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<CollectiveBackend> group;
  std::vector<c10::intrusive_ptr<c10d::Work>> in_flight;  // started by start_sum
  std::string start_error;                                 // the first start_sum that threw
};

RankGroup::RankGroup(const RankEnv& env, const RankGroupOptions& options)
    : env_(env), options_(options), impl_(std::make_unique<Impl>()) {
  const std::string at = env_.master_addr + ":" + std::to_string(env_.master_port);
  if (!comm_backend_available(options_.backend))
    throw Error(std::string("backend nccl: this fastbert-train was built against a LibTorch without CUDA and "
                            "NCCL; use --backend gloo, or build the training side against a CUDA LibTorch "
                            "(docs/distributed-training.md)"));
  try {
    c10d::TCPStoreOptions o;
    o.port = static_cast<std::uint16_t>(env_.master_port);
    o.isServer = env_.rank == 0;
    o.numWorkers = static_cast<std::size_t>(env_.world_size);
    o.waitWorkers = true;
    o.timeout = options_.timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(env_.master_addr, o);
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(env_.rank) + ": rendezvous at " + at + " (MASTER_ADDR:MASTER_PORT) failed " +
                (env_.rank == 0 ? "while waiting for the other " + std::to_string(env_.world_size - 1) + " ranks"
                                : std::string("reaching rank 0's store")) +
                " within " + ms_text(options_.timeout) + ": " + message_of(e));
  }
  try {
    if (options_.backend == CommBackend::Gloo) {
      auto o = c10d::ProcessGroupGloo::Options::create(options_.timeout);
      const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
      o->devices.push_back(ifname && *ifname
                               ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                               : c10d::ProcessGroupGloo::createDeviceForHostname(
                                     local_address_towards(env_.master_addr, env_.master_port)));
      o->threads = 2;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, env_.rank, env_.world_size, o);
    } else {
#ifdef FASTBERT_WITH_NCCL
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = options_.timeout;
      impl_->group = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, env_.rank, env_.world_size, o);
#endif
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("rank " + std::to_string(env_.rank) + ": connecting the " + std::to_string(env_.world_size) +
                " ranks (" + comm_backend_name(options_.backend) + ", rendezvous at " + at + ") failed within " +
                ms_text(options_.timeout) + ": " + message_of(e));
  }
}

RankGroup::~RankGroup() = default;

void RankGroup::fail(const std::string& what, const std::string& cause) {
  std::string who;
  try {
    // Every survivor marks itself in rank 0's store; those that never do
    // within the window are the ones that died or hang.
    impl_->store->setTimeout(kFaultAnswerWindow);
    impl_->store->set(fault_key(env_.rank), std::vector<uint8_t>{1});
    const auto deadline = std::chrono::steady_clock::now() + kFaultAnswerWindow;
    std::vector<int> silent;
    for (;;) {
      silent.clear();
      for (int r = 0; r < env_.world_size; ++r)
        if (r != env_.rank && !impl_->store->check({fault_key(r)})) silent.push_back(r);
      if (silent.empty() || std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (silent.empty()) {
      who = "every other rank is still running";
    } else {
      std::string list;
      for (int r : silent) list += (list.empty() ? "" : ", ") + std::to_string(r);
      who = std::string(silent.size() == 1 ? "rank " : "ranks ") + list + (silent.size() == 1 ? " has" : " have") +
            " died or hangs (no answer within " + ms_text(kFaultAnswerWindow) + ")";
    }
  } catch (const std::exception&) {
    who = "rank 0, which serves the rendezvous store at " + env_.master_addr + ":" + std::to_string(env_.master_port) +
          ", has died or hangs (its store does not answer)";
  }
  throw Error("rank " + std::to_string(env_.rank) + ": " + what + " failed (" + cause + "): " + who);
}

void RankGroup::sum_in_place(std::vector<torch::Tensor>& tensors, const std::string& what) {
  for (auto& t : tensors) start_sum(t);
  finish_sums(what);
}

void RankGroup::start_sum(torch::Tensor tensor) {
  if (!impl_->start_error.empty()) return;  // the group is broken; finish_sums says so
  try {
    std::vector<at::Tensor> one = {std::move(tensor)};
    impl_->in_flight.push_back(impl_->group->allreduce(one));
  } catch (const std::exception& e) {
    impl_->start_error = message_of(e);
  }
}

void RankGroup::finish_sums(const std::string& what) {
  std::vector<c10::intrusive_ptr<c10d::Work>> pending;
  pending.swap(impl_->in_flight);
  std::string error;
  error.swap(impl_->start_error);
  try {
    for (auto& w : pending) w->wait(options_.timeout);
  } catch (const std::exception& e) {
    if (error.empty()) error = message_of(e);
  }
  if (!error.empty()) fail("all-reduce of " + what, error);
}

// NCCL reduces GPU tensors only; Gloo host ones (and GPU ones through the host).
torch::Device RankGroup::scalar_device() const {
  return options_.backend == CommBackend::Nccl ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env_.local_rank))
                                               : torch::Device(torch::kCPU);
}

double RankGroup::sum(double value, const std::string& what) {
  std::vector<torch::Tensor> t = {torch::tensor({value}, torch::dtype(torch::kFloat64).device(scalar_device()))};
  sum_in_place(t, what);
  return t[0].item<double>();
}

void RankGroup::check_identical(uint64_t digest, const std::string& what, const std::string& likely_cause) {
  const auto on = torch::dtype(torch::kInt64).device(scalar_device());
  std::vector<at::Tensor> mine = {torch::tensor({static_cast<int64_t>(digest)}, on)};
  std::vector<std::vector<at::Tensor>> all(1);
  for (int r = 0; r < env_.world_size; ++r) all[0].push_back(torch::empty({1}, on));
  try {
    impl_->group->allgather(all, mine)->wait(options_.timeout);
  } catch (const std::exception& e) {
    fail("comparing " + what + " across ranks", message_of(e));
  }
  std::string differing;
  for (auto& t : all[0]) t = t.cpu();
  const int64_t reference = all[0][0].item<int64_t>();
  for (int r = 1; r < env_.world_size; ++r)
    if (all[0][r].item<int64_t>() != reference) differing += (differing.empty() ? "" : ", ") + std::to_string(r);
  if (!differing.empty())
    throw Error("rank " + std::to_string(env_.rank) + ": " + what + " differs between rank 0 and rank(s) " +
                differing + ": " + likely_cause);
}

void RankGroup::barrier(const std::string& what) {
  try {
    impl_->group->barrier()->wait(options_.timeout);
  } catch (const std::exception& e) {
    fail(what, message_of(e));
  }
}

}  // namespace fastbert
