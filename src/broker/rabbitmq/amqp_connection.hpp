// One AMQP 0-9-1 connection with one channel, on rabbitmq-c — the only header outside the .cpp
// files of broker/rabbitmq/ that includes amqp.h; it is private to this folder.
//
// rabbitmq-c connections are not thread-safe: an AmqpConnection belongs to one thread at a time
// (its owner serialises access). Every blocking step has a timeout (connect, login, RPCs, and
// the writes rabbitmq-c itself leaves unbounded, through write()); a failed step leaves the
// connection broken(), and the owner opens a new one.
#pragma once

#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "broker/rabbitmq/backoff.hpp"
#include "platform/error.hpp"

namespace atrium::broker::rabbitmq {

struct Endpoint {
  std::string host;
  int port = 5672;
  std::string user;
  std::string password;
  std::string vhost = "/";
};

// Parses amqp://user:pass@host:port/vhost (as rabbitmq-c does: the vhost is percent-decoded,
// an empty path is "/"). Code::kInvalidRequest for anything else, amqps:// included (TLS is not
// built in).
Result<Endpoint> parse_url(std::string_view url);

struct ConnectOptions {
  std::chrono::milliseconds timeout{5000};  // TCP connect, handshake, each RPC
  int heartbeat_seconds = 0;                // 0 = none (see RabbitOptions)
  std::string name;                         // shown by the broker's management tools
};

class AmqpConnection {
 public:
  static constexpr amqp_channel_t kChannel = 1;

  // Connects, logs in and opens the channel. Code::kUnavailable with the reason otherwise.
  static Result<std::unique_ptr<AmqpConnection>> open(const Endpoint& endpoint,
                                                      const ConnectOptions& options);
  ~AmqpConnection();  // closes politely (bounded by the timeout), then frees

  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  amqp_connection_state_t state() { return state_; }

  // The outcome of the last synchronous call (amqp_get_rpc_reply); marks the connection broken
  // on failure. `what` names the step in the error.
  Result<void> check_rpc(std::string_view what);
  // For calls that return a status code.
  Result<void> check_status(int status, std::string_view what);
  // Runs `call`, rabbitmq-c calls that write without a timeout of their own (basic.publish,
  // basic.ack, basic.nack wait for room in the socket's buffer for as long as it takes: a stalled
  // broker, or one that stops reading publishers under a resource alarm). When they have not
  // returned within the timeout, the socket is shut down under them, so they fail instead of
  // holding their thread forever: Code::kUnavailable, and the connection is broken. `call`
  // returns a status code, as those functions do.
  Result<void> write(std::string_view what, const std::function<int()>& call);
  // The same, shut down at `deadline` instead (a caller holding one deadline for several steps).
  Result<void> write(std::string_view what, const std::function<int()>& call,
                     std::chrono::steady_clock::time_point deadline);
  // The bound of later steps (RPCs, writes) from now on.
  void set_timeout(std::chrono::milliseconds timeout);

  // Encodes a basic.publish — its method frame, content header and body frames (cut at the
  // negotiated frame size) — at the end of the connection's outgoing buffer, for send_buffered()
  // to write. rabbitmq-c's amqp_basic_publish sends each frame with a send(2) of its own, three per
  // message; a batch buffered here goes in one write. Code::kInvalidRequest when a name is over
  // 255 bytes or the properties do not fit a frame; nothing is buffered then.
  Result<void> buffer_publish(std::string_view exchange, std::string_view routing_key,
                              bool mandatory, const amqp_basic_properties_t& properties,
                              std::string_view body);
  // Writes the outgoing buffer whole, by `deadline` (the socket is polled while it is full), and
  // empties it. Code::kUnavailable otherwise, and the connection is broken.
  Result<void> send_buffered(std::string_view what, std::chrono::steady_clock::time_point deadline);
  // Bytes buffered by buffer_publish() and not sent yet.
  std::size_t buffered() const { return out_.size(); }
  void discard_buffered() { out_.clear(); }

  // Declares durable, idempotently: a queue with `arguments` (nullopt on success, an error when
  // an existing queue's arguments differ). Returns the messages ready in it.
  Result<std::uint32_t> declare_queue(std::string_view name, bool durable, bool exclusive,
                                      const amqp_table_t& arguments, std::string* server_name);
  // Passive declare: the message count of an existing queue.
  Result<std::uint32_t> queue_depth(std::string_view name);

  bool broken() const { return broken_; }
  void mark_broken() { broken_ = true; }

 private:
  AmqpConnection() = default;

  amqp_connection_state_t state_ = nullptr;
  bool channel_open_ = false;
  bool broken_ = false;
  std::chrono::milliseconds timeout_{5000};
  std::string out_;      // frames buffered by buffer_publish()
  std::string scratch_;  // encoding space for a content header's properties
};

amqp_bytes_t as_bytes(std::string_view s);
std::string to_string(amqp_bytes_t b);

}  // namespace atrium::broker::rabbitmq
