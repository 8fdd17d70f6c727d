#include "tasks/openai_executor.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "platform/log.hpp"

namespace atrium::tasks {
namespace {

constexpr std::string_view kSecretName = "llm_api_key";
constexpr std::string_view kBaseUrlSecretName = "llm_base_url";
constexpr std::size_t kMaxErrorBody = 16 * 1024;

// Whether an address is loopback, private, link-local, shared (CGNAT), unspecified or
// multicast: places a tenant's agent must not reach on the platform's network.
bool is_private_address(const char* ip) {
  unsigned char a[16];
  if (inet_pton(AF_INET, ip, a) == 1) {
    return a[0] == 0 || a[0] == 10 || a[0] == 127 || (a[0] == 100 && (a[1] & 0xc0) == 64) ||
           (a[0] == 169 && a[1] == 254) || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
           (a[0] == 192 && a[1] == 168) || a[0] >= 224;
  }
  if (inet_pton(AF_INET6, ip, a) == 1) {
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a, kMapped, 12) == 0) {
      char v4[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, a + 12, v4, sizeof v4);
      return is_private_address(v4);
    }
    const bool unspecified_or_loopback =
        std::all_of(a, a + 15, [](unsigned char c) { return c == 0; }) && a[15] <= 1;
    return unspecified_or_loopback || (a[0] & 0xfe) == 0xfc ||
           (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || a[0] == 0xff;
  }
  return true;  // not an address we understand: refuse
}

// The text a user sees for a server's error body: its `error.message` when it has one, else the
// start of the body, on one line.
std::string error_message(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string text;
  if (!j.is_discarded() && j.is_object()) {
    auto e = j.find("error");
    if (e != j.end() && e->is_object() && e->contains("message") && (*e)["message"].is_string()) {
      text = (*e)["message"].get<std::string>();
    } else if (e != j.end() && e->is_string()) {
      text = e->get<std::string>();
    }
  }
  if (text.empty()) text = body;
  if (text.size() > 300) text = text.substr(0, 300) + "…";
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  return text;
}

// One request's state, shared with libcurl's callbacks.
struct Transfer {
  Execution* ex = nullptr;
  const OpenAiOptions* options = nullptr;
  CURL* curl = nullptr;
  bool checked = false;  // status and content type looked at
  long status = 0;
  bool streaming = false;
  bool blocked_destination = false;
  bool too_large = false;
  bool idle = false;  // nothing received for idle_timeout
  std::chrono::steady_clock::time_point last_data = std::chrono::steady_clock::now();
  std::string raw;      // the body of an error or a non-streamed answer
  std::string pending;  // streamed bytes not yet split into lines
  std::string data;     // the current server-sent event's data lines
  bool done = false;    // [DONE] seen
  std::string content;
  std::string model;
  std::string finish_reason;
  nlohmann::json usage;
  std::optional<std::string> stream_error;
  int step = 0;

  void event(const std::string& payload) {
    if (payload == "[DONE]") {
      done = true;
      return;
    }
    auto j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return;
    if (j.contains("error")) {
      stream_error = error_message(payload);
      return;
    }
    if (j.contains("model") && j["model"].is_string()) model = j["model"].get<std::string>();
    if (j.contains("usage") && j["usage"].is_object()) usage = j["usage"];
    auto choices = j.find("choices");
    if (choices == j.end() || !choices->is_array() || choices->empty()) return;
    const auto& choice = (*choices)[0];
    if (choice.contains("finish_reason") && choice["finish_reason"].is_string())
      finish_reason = choice["finish_reason"].get<std::string>();
    auto delta = choice.find("delta");
    if (delta == choice.end() || !delta->is_object()) return;
    auto piece = delta->find("content");
    if (piece == delta->end() || !piece->is_string()) return;
    const std::string text = piece->get<std::string>();
    if (text.empty()) return;
    content += text;
    ex->report(Progress{++step, std::nullopt, text});
  }

  void line(std::string_view l) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) {
      if (!data.empty()) event(data);
      data.clear();
      return;
    }
    if (l.starts_with("data:")) {
      l.remove_prefix(5);
      if (!l.empty() && l.front() == ' ') l.remove_prefix(1);
      if (!data.empty()) data += '\n';
      data += l;
    }
  }

  std::size_t write(const char* bytes, std::size_t n) {
    last_data = std::chrono::steady_clock::now();
    if (!checked) {
      checked = true;
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
      const char* type = nullptr;
      curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
      streaming =
          status / 100 == 2 && type && std::string_view(type).starts_with("text/event-stream");
    }
    if (!streaming) {
      const std::size_t limit = status / 100 == 2 ? options->max_response_bytes : kMaxErrorBody;
      raw.append(bytes, std::min(n, limit - std::min(limit, raw.size())));
      if (status / 100 == 2 && raw.size() >= limit) {
        too_large = true;
        return 0;
      }
      return n;
    }
    pending.append(bytes, n);
    std::size_t start = 0;
    for (auto nl = pending.find('\n', start); nl != std::string::npos;
         nl = pending.find('\n', start)) {
      line(std::string_view(pending).substr(start, nl - start));
      start = nl + 1;
    }
    pending.erase(0, start);
    if (content.size() + pending.size() > options->max_response_bytes) {
      too_large = true;
      return 0;
    }
    return n;
  }
};

std::size_t on_write(char* bytes, std::size_t size, std::size_t n, void* user) {
  return static_cast<Transfer*>(user)->write(bytes, size * n);
}

// Called about once a second at least, so the idle bound is kept to within a second.
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->ex->stop.stop_requested()) return 1;
  if (std::chrono::steady_clock::now() - t->last_data > t->options->idle_timeout) {
    t->idle = true;
    return 1;
  }
  return 0;
}

int on_connected(void* user, char* remote_ip, char*, int, int) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->options->allow_private_networks && is_private_address(remote_ip)) {
    t->blocked_destination = true;
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}

struct Attempt {
  Outcome outcome;
  std::chrono::milliseconds retry_after{0};  // from the server, when it said
};

// libcurl's global state, set up on the first request rather than at start: it loads the TLS
// library's configuration (~2.3M instructions, a twentieth of a fresh start) that a server whose
// agents never call an LLM does not need.
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string trim_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

OpenAiExecutor::OpenAiExecutor(OpenAiOptions options) : options_(std::move(options)) {}

Result<void> OpenAiExecutor::validate(const nlohmann::json& input) const {
  if (!input.is_object()) return {};
  if (auto p = input.find("prompt"); p != input.end() && !p->is_string())
    return fail(Error::field("input.prompt", "must be a string"));
  if (auto m = input.find("messages"); m != input.end()) {
    if (!m->is_array() || m->empty() || m->size() > 100)
      return fail(Error::field("input.messages", "must be a list of 1 to 100 messages"));
    for (const auto& msg : *m) {
      const bool ok = msg.is_object() && msg.contains("role") && msg["role"].is_string() &&
                      msg.contains("content") && msg["content"].is_string();
      const std::string role = ok ? msg["role"].get<std::string>() : "";
      if (!ok || (role != "system" && role != "user" && role != "assistant"))
        return fail(Error::field("input.messages",
                                 "each message needs a role (system, user or assistant) and a "
                                 "string content"));
    }
  }
  return {};
}

std::vector<FieldError> OpenAiExecutor::validate_config(const nlohmann::json& config) const {
  constexpr std::size_t kMaxUrl = 2048;
  std::vector<FieldError> out;
  for (const auto& [key, value] : config.items()) {
    const std::string field = "config." + key.substr(0, 100);
    if (key == "base_url") {
      const bool url = value.is_string() && value.get_ref<const std::string&>().size() <= kMaxUrl &&
                       (value.get_ref<const std::string&>().starts_with("https://") ||
                        value.get_ref<const std::string&>().starts_with("http://"));
      if (!url) out.push_back({field, "must be an http(s) URL of at most 2048 characters"});
    } else if (key == "temperature") {
      if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 2)
        out.push_back({field, "must be a number from 0 to 2"});
    } else if (key == "max_tokens") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
          value.get<std::int64_t>() > 1000000)
        out.push_back({field, "must be an integer from 1 to 1000000"});
    } else {
      out.push_back({field, "is not a setting of the openai executor"});
    }
  }
  return out;
}

Outcome OpenAiExecutor::run(Execution& ex) {
  if (auto valid = validate(ex.task.input); !valid)
    return tl::unexpected(ExecutionError{valid.error().detail, false});

  const nlohmann::json& config = ex.agent.config;
  std::string base_url = options_.default_base_url;
  bool custom_url = false;
  if (auto b = config.find("base_url");
      b != config.end() && b->is_string() && !b->get<std::string>().empty()) {
    base_url = b->get<std::string>();
    custom_url = trim_slash(base_url) != trim_slash(options_.default_base_url);
  }
  if (!base_url.starts_with("https://") && !base_url.starts_with("http://"))
    return tl::unexpected(ExecutionError{"the agent's base_url must be an http(s) URL", false});

  std::string key;
  auto secret = ex.secret(kSecretName);
  if (!secret) {
    return tl::unexpected(ExecutionError{"the organization's secrets cannot be read",
                                         secret.error().code == Code::kUnavailable});
  }
  if (*secret && !(*secret)->empty()) {
    // Whoever may create agents chooses base_url, but only holders of org:manage set secrets: the
    // organization's key goes to the default endpoint or to the one org:manage named beside it.
    if (custom_url) {
      auto allowed = ex.secret(kBaseUrlSecretName);
      if (!allowed) {
        return tl::unexpected(ExecutionError{"the organization's secrets cannot be read",
                                             allowed.error().code == Code::kUnavailable});
      }
      if (!*allowed || trim_slash(**allowed) != trim_slash(base_url)) {
        return tl::unexpected(ExecutionError{
            "the organization secret llm_api_key is sent only to the default base_url or to the "
            "one in the organization secret llm_base_url",
            false});
      }
    }
    key = **secret;
  } else if (!custom_url) {
    key = options_.platform_key;
  }
  if (key.empty()) {
    return tl::unexpected(ExecutionError{
        custom_url ? "no API key: set the organization secret llm_api_key (the platform's key is "
                     "never sent to an agent's own base_url)"
                   : "no API key: set the organization secret llm_api_key",
        false});
  }

  nlohmann::json messages = nlohmann::json::array();
  if (!ex.agent.instructions.empty())
    messages.push_back({{"role", "system"}, {"content", ex.agent.instructions}});
  const nlohmann::json& input = ex.task.input;
  if (input.is_string()) {
    messages.push_back({{"role", "user"}, {"content", input}});
  } else if (input.is_object() && input.contains("messages")) {
    for (const auto& m : input["messages"])
      messages.push_back({{"role", m["role"]}, {"content", m["content"]}});
  } else if (input.is_object() && input.contains("prompt")) {
    messages.push_back({{"role", "user"}, {"content", input["prompt"]}});
  } else {
    messages.push_back({{"role", "user"}, {"content", input.dump()}});
  }
  nlohmann::json body = {{"model", ex.agent.model}, {"messages", messages}, {"stream", true}};
  if (auto t = config.find("temperature"); t != config.end() && t->is_number())
    body["temperature"] = *t;
  if (auto m = config.find("max_tokens"); m != config.end() && m->is_number_integer())
    body["max_tokens"] = *m;
  const std::string request = body.dump();
  const std::string url = trim_slash(base_url) + "/chat/completions";
  const std::string auth = "Authorization: Bearer " + key;

  init_curl_once();
  auto attempt = [&]() -> Attempt {
    Transfer t;
    t.ex = &ex;
    t.options = &options_;
    CURL* curl = curl_easy_init();
    if (!curl) return {tl::unexpected(ExecutionError{"cannot start an HTTP request", true})};
    t.curl = curl;
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: text/event-stream");
    headers = curl_slist_append(headers, auth.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.size()));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(curl, CURLOPT_PREREQFUNCTION, on_connected);
    curl_easy_setopt(curl, CURLOPT_PREREQDATA, &t);
    const CURLcode rc = curl_easy_perform(curl);
    curl_off_t retry_after = 0;
    curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after);
    if (!t.checked) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);

    Attempt a{tl::unexpected(ExecutionError{"", false}),
              std::chrono::seconds(std::max<curl_off_t>(0, retry_after))};
    if (ex.stop.stop_requested()) {
      a.outcome = tl::unexpected(ExecutionError{"stopped", false});
    } else if (t.blocked_destination) {
      a.outcome = tl::unexpected(ExecutionError{
          "the agent's base_url leads to a private network address, which this server does not "
          "allow",
          false});
    } else if (t.idle) {
      a.outcome = tl::unexpected(ExecutionError{"the model server stopped sending", true});
    } else if (t.too_large) {
      a.outcome = tl::unexpected(ExecutionError{"the model server's answer is too large", false});
    } else if (rc != CURLE_OK) {
      const bool timed_out = rc == CURLE_OPERATION_TIMEDOUT;
      log::warn("model server request failed",
                {{"task_id", ex.task.id}, {"curl", curl_easy_strerror(rc)}});
      a.outcome = tl::unexpected(ExecutionError{
          timed_out ? "the model server did not answer in time"
                    : std::string("cannot reach the model server: ") + curl_easy_strerror(rc),
          true});
    } else if (t.status == 429 || t.status >= 500) {
      a.outcome = tl::unexpected(ExecutionError{
          "the model server answered " + std::to_string(t.status) + ": " + error_message(t.raw),
          true});
    } else if (t.status / 100 != 2) {
      a.outcome = tl::unexpected(ExecutionError{
          "the model server answered " + std::to_string(t.status) + ": " + error_message(t.raw),
          false});
    } else if (t.streaming) {
      if (!t.pending.empty()) t.line(t.pending);
      t.line("");
      if (t.stream_error) {
        a.outcome =
            tl::unexpected(ExecutionError{"the model server failed: " + *t.stream_error, true});
      } else if (!t.done && t.finish_reason.empty()) {
        a.outcome = tl::unexpected(ExecutionError{"the model server's stream ended early", true});
      } else {
        a.outcome = nlohmann::json{
            {"content", t.content},
            {"model", t.model.empty() ? ex.agent.model : t.model},
            {"finish_reason", t.finish_reason.empty() ? nullptr : nlohmann::json(t.finish_reason)},
            {"usage", t.usage}};
      }
    } else {
      auto j = nlohmann::json::parse(t.raw, nullptr, false);
      const nlohmann::json* message = nullptr;
      if (!j.is_discarded() && j.is_object() && j.contains("choices") && j["choices"].is_array() &&
          !j["choices"].empty() && j["choices"][0].is_object() &&
          j["choices"][0].contains("message"))
        message = &j["choices"][0]["message"];
      if (!message || !message->is_object() || !message->contains("content") ||
          !(*message)["content"].is_string()) {
        a.outcome = tl::unexpected(
            ExecutionError{"the model server's answer is not a chat completion", false});
      } else {
        const auto& choice = j["choices"][0];
        const std::string text = (*message)["content"].get<std::string>();
        if (!text.empty()) ex.report(Progress{1, 1, text});
        a.outcome = nlohmann::json{
            {"content", text},
            {"model", j.value("model", ex.agent.model)},
            {"finish_reason",
             choice.contains("finish_reason") ? choice["finish_reason"] : nlohmann::json()},
            {"usage", j.contains("usage") ? j["usage"] : nlohmann::json()}};
      }
    }
    return a;
  };

  std::mutex mu;
  std::condition_variable_any cv;
  std::chrono::milliseconds delay = options_.retry_delay;
  for (int n = 1;; ++n) {
    Attempt a = attempt();
    if (a.outcome || !a.outcome.error().retryable || n >= options_.attempts ||
        ex.stop.stop_requested())
      return std::move(a.outcome);
    auto wait = std::min(std::max(delay, a.retry_after), options_.max_retry_delay);
    std::unique_lock lock(mu);
    cv.wait_for(lock, ex.stop, wait, [] { return false; });
    if (ex.stop.stop_requested()) return tl::unexpected(ExecutionError{"stopped", false});
    delay = std::min(delay * 2, options_.max_retry_delay);
  }
}

}  // namespace atrium::tasks
