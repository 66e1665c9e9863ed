#pragma once
// A deliberately plain HTTP/1.1 client for the serve tests: blocking loopback
// sockets with deadlines, one request per connection (Connection: close), and
// the raw connections the abuse tests need (idle, slow, oversized).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>

namespace fastbert::testing {

struct HttpResponse {
  int status = 0;                              // 0: no response (connection refused, reset or timed out)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  double ms = 0;
};

// A connected loopback socket, closed on destruction; fd() < 0 when refused.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  int fd() const { return fd_; }

  bool send_all(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads until the server closes or `timeout` passes; parses what came.
  HttpResponse read_response(std::chrono::milliseconds timeout) {
    std::string raw;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[16384];
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      raw.append(buf, static_cast<size_t>(n));
      if (complete(raw)) break;
    }
    return parse(raw);
  }

 private:
  // Whole when the headers ended and Content-Length bytes of body followed.
  static bool complete(const std::string& raw) {
    const size_t end = raw.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    const HttpResponse r = parse(raw);
    auto it = r.headers.find("content-length");
    return it != r.headers.end() && raw.size() - (end + 4) >= std::stoul(it->second);
  }
  static HttpResponse parse(const std::string& raw) {
    HttpResponse r;
    const size_t end = raw.find("\r\n\r\n");
    if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return r;
    r.status = std::atoi(raw.c_str() + 9);
    size_t line = raw.find("\r\n") + 2;
    while (line < end) {
      const size_t next = raw.find("\r\n", line);
      const std::string h = raw.substr(line, next - line);
      const size_t colon = h.find(':');
      if (colon != std::string::npos) {
        std::string key = h.substr(0, colon);
        for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[key] = h.substr(h.find_first_not_of(' ', colon + 1));
      }
      line = next + 2;
    }
    r.body = raw.substr(end + 4);
    return r;
  }
  int fd_ = -1;
};

inline HttpResponse http_request(int port, const std::string& method, const std::string& path,
                                 const std::string& body = "", const std::string& extra_headers = "",
                                 std::chrono::milliseconds timeout = std::chrono::milliseconds(20000)) {
  const auto t0 = std::chrono::steady_clock::now();
  RawConnection c(port);
  if (c.fd() < 0) return {};
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra_headers;
  if (method == "POST")
    request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n" + body;
  if (!c.send_all(request)) return {};
  HttpResponse r = c.read_response(timeout);
  r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace fastbert::testing
