#include "broker/rabbitmq/amqp_connection.hpp"

#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

namespace atrium::broker::rabbitmq {
namespace {

timeval to_timeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

std::string describe(const amqp_rpc_reply_t& r) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "ok";
    case AMQP_RESPONSE_NONE:
      return "no reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_connection_close_t*>(r.reply.decoded);
        return "connection closed by the broker: " + std::to_string(m->reply_code) + " " +
               to_string(m->reply_text);
      }
      if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_channel_close_t*>(r.reply.decoded);
        return "channel closed by the broker: " + std::to_string(m->reply_code) + " " +
               to_string(m->reply_text);
      }
      return "unexpected method from the broker";
  }
  return "unknown reply";
}

// Shuts down the sockets of writes that outlive their deadline (AmqpConnection::write). One
// thread for the process, started with the first write; it sleeps until the earliest deadline.
// A socket is only ever shut down while its write is armed, so its descriptor is still the
// connection's (the connection cannot be closed in the middle of its own write).
class WriteWatchdog {
 public:
  static WriteWatchdog& instance() {
    static WriteWatchdog watchdog;
    return watchdog;
  }

  std::uint64_t arm(int fd, std::chrono::steady_clock::time_point deadline) {
    std::uint64_t ticket;
    bool earliest;
    {
      std::lock_guard lock(mu_);
      ticket = next_ticket_++;
      armed_.emplace(ticket, Armed{fd, deadline, false});
      earliest = deadline < wake_at_;
    }
    if (earliest) cv_.notify_one();
    return ticket;
  }

  // Whether the deadline passed first (the socket was shut down).
  bool disarm(std::uint64_t ticket) {
    std::lock_guard lock(mu_);
    auto it = armed_.find(ticket);
    const bool fired = it->second.fired;
    armed_.erase(it);
    return fired;
  }

 private:
  struct Armed {
    int fd;
    std::chrono::steady_clock::time_point deadline;
    bool fired;
  };

  WriteWatchdog() : thread_([this] { run(); }) {}
  ~WriteWatchdog() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

  void run() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      const auto now = std::chrono::steady_clock::now();
      wake_at_ = std::chrono::steady_clock::time_point::max();
      for (auto& [ticket, a] : armed_) {
        if (a.fired) continue;
        if (a.deadline <= now) {
          ::shutdown(a.fd, SHUT_RDWR);
          a.fired = true;
        } else {
          wake_at_ = std::min(wake_at_, a.deadline);
        }
      }
      cv_.wait_until(lock, wake_at_);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::uint64_t, Armed> armed_;  // guarded by mu_
  std::uint64_t next_ticket_ = 1;         // guarded by mu_
  std::chrono::steady_clock::time_point wake_at_ =
      std::chrono::steady_clock::time_point::max();  // guarded by mu_
  bool stopping_ = false;                            // guarded by mu_
  std::thread thread_;
};

// AMQP 0-9-1 frames (spec §2.3.5): type, channel, payload size, payload, frame-end octet.
constexpr std::size_t kFrameOverhead = 8;
constexpr char kFrameEnd = static_cast<char>(AMQP_FRAME_END);

void put16(std::string& out, std::uint16_t v) {
  const char b[] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, sizeof b);
}

void put32(std::string& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v >> 16));
  put16(out, static_cast<std::uint16_t>(v));
}

void put64(std::string& out, std::uint64_t v) {
  put32(out, static_cast<std::uint32_t>(v >> 32));
  put32(out, static_cast<std::uint32_t>(v));
}

void put_frame_header(std::string& out, std::uint8_t type, amqp_channel_t channel,
                      std::size_t payload) {
  out.push_back(static_cast<char>(type));
  put16(out, channel);
  put32(out, static_cast<std::uint32_t>(payload));
}

}  // namespace

amqp_bytes_t as_bytes(std::string_view s) {
  amqp_bytes_t b;
  b.len = s.size();
  b.bytes = const_cast<char*>(s.data());
  return b;
}

std::string to_string(amqp_bytes_t b) {
  return b.bytes ? std::string(static_cast<const char*>(b.bytes), b.len) : std::string();
}

Result<Endpoint> parse_url(std::string_view url) {
  std::string buffer(url);
  amqp_connection_info info;
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK)
    return fail(Error::invalid("expected amqp://user:pass@host:port/vhost"));
  if (info.ssl) return fail(Error::invalid("amqps:// is not supported; use amqp://"));
  Endpoint e;
  e.host = info.host;
  e.port = info.port;
  e.user = info.user;
  e.password = info.password;
  e.vhost = info.vhost;
  if (e.vhost.empty()) e.vhost = "/";
  return e;
}

Result<std::unique_ptr<AmqpConnection>> AmqpConnection::open(const Endpoint& endpoint,
                                                             const ConnectOptions& options) {
  std::unique_ptr<AmqpConnection> c(new AmqpConnection());
  c->timeout_ = options.timeout;
  c->state_ = amqp_new_connection();
  if (!c->state_) return fail(Error::unavailable("cannot allocate an AMQP connection"));
  amqp_socket_t* socket = amqp_tcp_socket_new(c->state_);
  if (!socket) return fail(Error::unavailable("cannot allocate an AMQP socket"));
  const timeval tv = to_timeval(options.timeout);
  amqp_set_handshake_timeout(c->state_, &tv);
  amqp_set_rpc_timeout(c->state_, &tv);
  if (int s = amqp_socket_open_noblock(socket, endpoint.host.c_str(), endpoint.port, &tv);
      s != AMQP_STATUS_OK) {
    c->broken_ = true;
    return fail(Error::unavailable("cannot reach the broker at " + endpoint.host + ":" +
                                   std::to_string(endpoint.port) + ": " + amqp_error_string2(s)));
  }

  amqp_table_entry_t props[1];
  props[0].key = amqp_cstring_bytes("connection_name");
  props[0].value.kind = AMQP_FIELD_KIND_UTF8;
  props[0].value.value.bytes = as_bytes(options.name);
  amqp_table_t properties{options.name.empty() ? 0 : 1, props};
  amqp_rpc_reply_t login = amqp_login_with_properties(
      c->state_, endpoint.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, options.heartbeat_seconds,
      &properties, AMQP_SASL_METHOD_PLAIN, endpoint.user.c_str(), endpoint.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    c->broken_ = true;
    return fail(Error::unavailable("broker login failed: " + describe(login)));
  }
  amqp_channel_open(c->state_, kChannel);
  if (auto r = c->check_rpc("channel open"); !r) return fail(r.error());
  c->channel_open_ = true;
  return c;
}

AmqpConnection::~AmqpConnection() {
  if (!state_) return;
  if (!broken_) {
    // A polite close lets the broker requeue at once; bounded, as everything here.
    const timeval tv = to_timeval(std::min(timeout_, std::chrono::milliseconds(1000)));
    amqp_set_rpc_timeout(state_, &tv);
    if (channel_open_) amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(state_);
}

Result<void> AmqpConnection::check_rpc(std::string_view what) {
  amqp_rpc_reply_t r = amqp_get_rpc_reply(state_);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return {};
  broken_ = true;
  return fail(Error::unavailable(std::string(what) + ": " + describe(r)));
}

Result<void> AmqpConnection::check_status(int status, std::string_view what) {
  if (status == AMQP_STATUS_OK) return {};
  broken_ = true;
  return fail(Error::unavailable(std::string(what) + ": " + amqp_error_string2(status)));
}

Result<void> AmqpConnection::write(std::string_view what, const std::function<int()>& call) {
  return write(what, call, std::chrono::steady_clock::now() + timeout_);
}

Result<void> AmqpConnection::write(std::string_view what, const std::function<int()>& call,
                                   std::chrono::steady_clock::time_point deadline) {
  if (broken_) return fail(Error::unavailable(std::string(what) + ": the connection is broken"));
  auto& watchdog = WriteWatchdog::instance();
  const auto ticket = watchdog.arm(amqp_get_sockfd(state_), deadline);
  const int status = call();
  if (watchdog.disarm(ticket)) {
    broken_ = true;
    return fail(Error::unavailable(std::string(what) + ": the broker took no data in time"));
  }
  return check_status(status, what);
}

void AmqpConnection::set_timeout(std::chrono::milliseconds timeout) {
  timeout_ = timeout;
  const timeval tv = to_timeval(timeout);
  amqp_set_rpc_timeout(state_, &tv);
}

Result<void> AmqpConnection::buffer_publish(std::string_view exchange, std::string_view routing_key,
                                            bool mandatory,
                                            const amqp_basic_properties_t& properties,
                                            std::string_view body) {
  if (exchange.size() > 255 || routing_key.size() > 255)
    return fail(Error::invalid("an exchange or routing key is over 255 bytes"));
  // The negotiated frame size (a frame's payload is that less the frame's own 8 bytes).
  const std::size_t frame_max =
      std::max<std::size_t>(static_cast<std::size_t>(amqp_get_frame_max(state_)), 4096);
  const std::size_t start = out_.size();

  // basic.publish: the method id, then its arguments as rabbitmq-c encodes them (at most
  // 2 + 256 + 256 + 1 bytes).
  amqp_basic_publish_t method{};
  method.exchange = as_bytes(exchange);
  method.routing_key = as_bytes(routing_key);
  method.mandatory = mandatory ? 1 : 0;
  char arguments[600];
  const int n = amqp_encode_method(AMQP_BASIC_PUBLISH_METHOD, &method,
                                   amqp_bytes_t{sizeof arguments, arguments});
  if (n < 0) return fail(Error::invalid("cannot encode basic.publish"));
  put_frame_header(out_, AMQP_FRAME_METHOD, kChannel, 4 + static_cast<std::size_t>(n));
  put32(out_, AMQP_BASIC_PUBLISH_METHOD);
  out_.append(arguments, static_cast<std::size_t>(n));
  out_.push_back(kFrameEnd);

  // The content header: class, weight 0, body size, then the properties.
  scratch_.resize(frame_max - kFrameOverhead - 12);
  amqp_basic_properties_t props = properties;  // rabbitmq-c takes a non-const pointer
  const int p = amqp_encode_properties(AMQP_BASIC_CLASS, &props,
                                       amqp_bytes_t{scratch_.size(), scratch_.data()});
  if (p < 0) {
    out_.resize(start);
    return fail(Error::invalid("the message's properties do not fit a frame"));
  }
  put_frame_header(out_, AMQP_FRAME_HEADER, kChannel, 12 + static_cast<std::size_t>(p));
  put16(out_, AMQP_BASIC_CLASS);
  put16(out_, 0);
  put64(out_, body.size());
  out_.append(scratch_.data(), static_cast<std::size_t>(p));
  out_.push_back(kFrameEnd);

  // The body, in frames of at most frame_max bytes.
  const std::size_t chunk = frame_max - kFrameOverhead;
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    const std::size_t len = std::min(chunk, body.size() - at);
    put_frame_header(out_, AMQP_FRAME_BODY, kChannel, len);
    out_.append(body.data() + at, len);
    out_.push_back(kFrameEnd);
  }
  return {};
}

Result<void> AmqpConnection::send_buffered(std::string_view what,
                                           std::chrono::steady_clock::time_point deadline) {
  if (broken_) {
    out_.clear();
    return fail(Error::unavailable(std::string(what) + ": the connection is broken"));
  }
  // The frames go straight to the socket: rabbitmq-c keeps no state about what it sends
  // (heartbeats, the only exception, are off on the connections that publish).
  const int fd = amqp_get_sockfd(state_);
  std::size_t sent = 0;
  auto failed = [&](std::string why) -> Result<void> {
    out_.clear();
    broken_ = true;
    return fail(Error::unavailable(std::string(what) + ": " + why));
  };
  while (sent < out_.size()) {
    const ssize_t n =
        ::send(fd, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return failed(std::strerror(errno));
    // The socket's buffer is full (the broker is slow, or not reading under a resource alarm).
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return failed("the broker took no data in time");
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 60000))) < 0 &&
        errno != EINTR)
      return failed(std::strerror(errno));
  }
  out_.clear();
  return {};
}

Result<std::uint32_t> AmqpConnection::declare_queue(std::string_view name, bool durable,
                                                    bool exclusive, const amqp_table_t& arguments,
                                                    std::string* server_name) {
  amqp_queue_declare_ok_t* ok = amqp_queue_declare(state_, kChannel, as_bytes(name), 0, durable,
                                                   exclusive, exclusive, arguments);
  if (auto r = check_rpc("declare queue " + std::string(name)); !r) return fail(r.error());
  if (server_name) *server_name = to_string(ok->queue);
  return ok->message_count;
}

Result<std::uint32_t> AmqpConnection::queue_depth(std::string_view name) {
  amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(state_, kChannel, as_bytes(name), 1, 0, 0, 0, amqp_empty_table);
  if (auto r = check_rpc("inspect queue " + std::string(name)); !r) return fail(r.error());
  return ok->message_count;
}

}  // namespace atrium::broker::rabbitmq
