// Running core work off the event loop and settling a Promise with the result (the dialect of
// the asynchronous methods: args.h).
//
//   return with_promise(env, [&] {
//     Args a = read_args(info);  // may throw: the Promise rejects
//     return run_async<Result>(env, [=] { return heavy(a); },
//                              [](Napi::Env env, Result& r) { return to_js(env, r); });
//   });
//
// `work` runs on a libuv worker thread and may throw; the error reaches JS with its code.
// `done` runs on the JS thread and builds the resolved value.
#pragma once
#include <napi.h>

#include <functional>
#include <memory>

#include "addon/errors.h"

namespace bgn::addon {

template <class R>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, std::function<R()> work, std::function<Napi::Value(Napi::Env, R&)> done)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        done_(std::move(done)) {}

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_ = std::make_unique<R>(work_());
    } catch (...) {
      error_.capture(std::current_exception());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (error_.set) {
      deferred_.Reject(make_error(env, error_.code, error_.message).Value());
      return;
    }
    try {
      deferred_.Resolve(done_(env, *result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(from_exception(env, std::current_exception()).Value());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<R()> work_;
  std::function<Napi::Value(Napi::Env, R&)> done_;
  std::unique_ptr<R> result_;
  CapturedError error_;
};

template <class R>
Napi::Promise run_async(Napi::Env env, std::function<R()> work, std::function<Napi::Value(Napi::Env, R&)> done) {
  auto* w = new PromiseWorker<R>(env, std::move(work), std::move(done));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

// A Promise already rejected with `error`.
inline Napi::Promise rejected(Napi::Env env, const Napi::Value& error) {
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(error);
  return d.Promise();
}

// Runs `body` (argument reading, then run_async) on the JS thread and returns its Promise; what
// it throws — a coded JS error from the readers, a core error — rejects the returned Promise
// instead of throwing synchronously.
template <class F>
Napi::Value with_promise(Napi::Env env, F&& body) {
  try {
    return body();
  } catch (const Napi::Error& e) {
    return rejected(env, e.Value());
  } catch (...) {
    return rejected(env, from_exception(env, std::current_exception()).Value());
  }
}

}  // namespace bgn::addon
