// An ordered chain of middleware around a terminal handler. The application defines its chain
// in one function (app/api.cpp), each step commented with why it stands where it does.
//
// A middleware may answer itself (return without calling next) or call next and adjust the
// response. Running the chain allocates nothing. Thread-safe once built.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/router.hpp"

namespace atrium::http {

class Pipeline {
 public:
  class Next {
   public:
    Result<Response> operator()(Request& req) const {
      return pipeline_->call(index_, req, *terminal_);
    }

   private:
    friend class Pipeline;
    Next(const Pipeline* p, std::size_t i, const Handler* t)
        : pipeline_(p), index_(i), terminal_(t) {}
    const Pipeline* pipeline_;
    std::size_t index_;
    const Handler* terminal_;
  };

  using Middleware = std::function<Result<Response>(Request&, const Next&)>;

  void use(std::string name, Middleware middleware);
  Result<Response> run(Request& req, const Handler& terminal) const {
    return call(0, req, terminal);
  }

  std::vector<std::string> names() const;

 private:
  Result<Response> call(std::size_t index, Request& req, const Handler& terminal) const;
  std::vector<std::pair<std::string, Middleware>> steps_;
};

}  // namespace atrium::http
