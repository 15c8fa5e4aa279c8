// The common part of every exported class: a JS object holding a shared_ptr to a loaded core
// object. Only the class's static load() creates one (it passes the pointer as an External);
// dispose() drops this handle's reference, after which impl() refuses with E_BAD_INPUT.
//
//   class UNetWrap : public HandleWrap<UNetModel, UNetWrap> {
//     static constexpr const char* kName = "UNet";
//     static constexpr const char* kCreate = "use UNet.load(path, options)";
//     …
//   };
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "addon/args.h"

namespace bgn::addon {

template <class T, class Derived>
class HandleWrap : public Napi::ObjectWrap<Derived> {
 public:
  static inline Napi::FunctionReference* ctor = nullptr;

  explicit HandleWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Derived>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) bad_input(info.Env(), Derived::kCreate);
    impl_ = *info[0].As<Napi::External<std::shared_ptr<T>>>().Data();
  }

  // The resolved value of load(): a new JS object holding `m`.
  static Napi::Value wrap(Napi::Env env, std::shared_ptr<T>& m) {
    auto ext = Napi::External<std::shared_ptr<T>>::New(env, &m);
    return ctor->New({ext});
  }

  // Defines the class (Derived::Define) and exports it under Derived::kName.
  static void export_class(Napi::Env env, Napi::Object exports) {
    Napi::Function f = Derived::Define(env);
    ctor = new Napi::FunctionReference(Napi::Persistent(f));
    exports.Set(Derived::kName, f);
  }

  // The core object, or E_BAD_INPUT when this handle was disposed.
  std::shared_ptr<T> impl(Napi::Env env) const {
    if (!impl_) bad_input(env, std::string("this ") + Derived::kName + " was disposed");
    return impl_;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    impl_.reset();
    return info.Env().Undefined();
  }

 protected:
  std::shared_ptr<T> impl_;
};

}  // namespace bgn::addon
