#include "formats/onnx.h"

#include <cstring>
#include <map>
#include <memory>

#include "formats/mapped_file.h"
#include "formats/protobuf.h"
#include "tensor/error.h"
#include "tensor/residency.h"

namespace bgn::onnx {

int64_t Node::attr_int(const std::string& k, int64_t def) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? def : it->second.i;
}
float Node::attr_float(const std::string& k, float def) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? def : it->second.f;
}
std::string Node::attr_string(const std::string& k, const std::string& def) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? def : it->second.s;
}
std::vector<int64_t> Node::attr_ints(const std::string& k, const std::vector<int64_t>& def) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? def : it->second.ints;
}

DType dtype_from_onnx(int t, const std::string& name) {
  switch (t) {
    case 1:
      return DType::F32;
    case 2:
      return DType::U8;
    case 3:
      return DType::I8;
    case 5:
      return DType::I16;
    case 6:
      return DType::I32;
    case 7:
      return DType::I64;
    case 9:
      return DType::Bool;
    case 10:
      return DType::F16;
    case 11:
      return DType::F64;
    case 16:
      return DType::BF16;
    default:
      break;
  }
  fail(Code::ModelUnsupported, "tensor '", name, "' has ONNX data type ", t, ", which bg-native does not support");
}

namespace {

constexpr const char* kWhat = "ONNX model";

struct Ctx {
  const std::string& origin;
  // The folder external data files are read from ("" : none may be read) and those opened so far.
  std::string dir;
  std::map<std::string, std::shared_ptr<MappedFile>> files;
};

// A decimal byte count of an external data entry; E_MODEL_FORMAT otherwise.
size_t external_number(const std::string& v, const char* key, const std::string& name, const Ctx& ctx) {
  size_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9' || n > (SIZE_MAX - 9) / 10)
      fail(Code::ModelFormat, "tensor '", name, "' in ", ctx.origin, " has an invalid external data ", key, " '", v,
           "'");
    n = n * 10 + size_t(c - '0');
  }
  if (v.empty()) fail(Code::ModelFormat, "tensor '", name, "' in ", ctx.origin, " has an empty external data ", key);
  return n;
}

// The `nbytes` bytes of a tensor kept in an external data file (location, offset, length as the
// ONNX external data format gives them), copied into `dst`. The location must be a relative path
// inside the model's folder; the range must lie inside the file and match the tensor's size.
void read_external(const std::map<std::string, std::string>& entry, const std::string& name, size_t nbytes, void* dst,
                   Ctx& ctx) {
  if (ctx.dir.empty())
    fail(Code::ModelUnsupported, "tensor '", name, "' in ", ctx.origin,
         " keeps its data in an external file, which a model read from memory cannot reach; load it from its file");
  auto loc = entry.find("location");
  if (loc == entry.end() || loc->second.empty())
    fail(Code::ModelFormat, "tensor '", name, "' in ", ctx.origin, " is external but names no location");
  const std::string& rel = loc->second;
  bool escapes = rel[0] == '/' || rel[0] == '\\' || rel.find(':') != std::string::npos;
  for (size_t at = 0; !escapes && at <= rel.size();) {
    const size_t end = std::min(rel.find_first_of("/\\", at), rel.size());
    escapes = rel.compare(at, end - at, "..") == 0 && end - at == 2;
    at = end + 1;
  }
  if (escapes)
    fail(Code::ModelFormat, "tensor '", name, "' in ", ctx.origin, " has its data at '", rel,
         "', outside the model's folder; external data must sit beside the model");
  std::shared_ptr<MappedFile>& file = ctx.files[rel];
  if (!file) {
    try {
      file = MappedFile::open(ctx.dir + "/" + rel);
    } catch (const Error& e) {
      fail(e.code() == Code::ModelNotFound ? Code::ModelNotFound : Code::ModelFormat, ctx.origin, ": tensor '", name,
           "' keeps its data in ", rel, " beside the model: ", e.what());
    }
  }
  auto get = [&](const char* key, size_t def) {
    auto it = entry.find(key);
    return it == entry.end() ? def : external_number(it->second, key, name, ctx);
  };
  const size_t offset = get("offset", 0);
  const size_t length = get("length", nbytes);
  if (length != nbytes)
    fail(Code::ModelFormat, "tensor '", name, "' in ", ctx.origin, " has ", length,
         " external bytes but its shape needs ", nbytes);
  if (offset > file->size() || nbytes > file->size() - offset)
    fail(Code::ModelFormat, "tensor '", name, "' in ", ctx.origin, " reads bytes ", offset, "–", offset + nbytes,
         " of ", rel, ", which holds ", file->size());
  if (nbytes == 0) return;
  std::memcpy(dst, file->data() + offset, nbytes);
  ResidentRanges copied;  // the pages are read once: not kept in the resident set
  copied.ranges.push_back(ResidentRange{file->data() + offset, nbytes, {}, false});
  copied.release();
}

Tensor parse_tensor(pb::Bytes msg, Ctx& ctx) {
  pb::Reader r(msg, kWhat);
  std::vector<int64_t> dims;
  int data_type = 0;
  std::string name;
  pb::Bytes raw;
  bool has_raw = false, external = false;
  std::map<std::string, std::string> external_entry;
  std::vector<float> float_data;
  std::vector<int64_t> int_data;  // int32_data and int64_data both decode as varints
  std::vector<double> double_data;
  while (r.next()) {
    switch (r.field()) {
      case 1:
        r.append_int64s(dims);
        break;
      case 2:
        data_type = static_cast<int>(r.int64());
        break;
      case 4:
        r.append_floats(float_data);
        break;
      case 5:
        r.append_int64s(int_data);
        break;
      case 7:
        r.append_int64s(int_data);
        break;
      case 8:
        name = r.string();
        break;
      case 9:
        raw = r.bytes();
        has_raw = true;
        break;
      case 10:
        if (r.wire() == pb::Len) {
          pb::Reader d(r.bytes(), kWhat);
          while (d.next()) d.malformed("unexpected");
        } else {
          double_data.push_back(r.float64());
        }
        break;
      case 14:
        external = r.int64() == 1;
        break;
      case 13: {
        // StringStringEntryProto: key = 1, value = 2
        pb::Reader e(r.bytes(), kWhat);
        std::string key, value;
        while (e.next()) {
          if (e.field() == 1)
            key = e.string();
          else if (e.field() == 2)
            value = e.string();
          else
            e.skip();
        }
        external_entry[key] = value;
        break;
      }
      default:
        r.skip();
    }
  }
  for (int64_t d : dims)
    if (d < 0) fail(Code::ModelFormat, "tensor '", name, "' in ", ctx.origin, " has a negative dimension");
  DType dt = dtype_from_onnx(data_type, name);
  Shape shape(dims.begin(), dims.end());
  int64_t n;
  try {
    n = shape_numel(shape);
  } catch (const Error&) {
    fail(Code::ModelFormat, "tensor '", name, "' in ", ctx.origin, " has an impossible shape ", shape_str(shape));
  }
  size_t esize = dtype_size(dt);
  if (external || !external_entry.empty()) {
    Tensor t = Tensor::empty(dt, shape);
    read_external(external_entry, name, static_cast<size_t>(n) * esize, t.raw(), ctx);
    return t;
  }
  if (has_raw) {
    if (raw.size / esize != static_cast<size_t>(n) || raw.size % esize)
      fail(Code::ModelFormat, "tensor '", name, "' in ", ctx.origin, " holds ", raw.size, " bytes but its shape ",
           shape_str(shape), " of ", dtype_name(dt), " needs ", static_cast<size_t>(n) * esize);
    Tensor t = Tensor::empty(dt, shape);
    if (raw.size) std::memcpy(t.raw(), raw.data, raw.size);
    return t;
  }
  // The value count is checked before allocating: a shape may not make us allocate memory the
  // file does not back with values.
  size_t have = dt == DType::F32 ? float_data.size() : dt == DType::F64 ? double_data.size() : int_data.size();
  if (have != static_cast<size_t>(n))
    fail(Code::ModelFormat, "tensor '", name, "' in ", ctx.origin, " has ", have, " values but its shape ",
         shape_str(shape), " needs ", n);
  Tensor t = Tensor::empty(dt, shape);
  switch (dt) {
    case DType::F32:
      if (n) std::memcpy(t.raw(), float_data.data(), n * 4);
      break;
    case DType::F64:
      if (n) std::memcpy(t.raw(), double_data.data(), n * 8);
      break;
    case DType::I64:
      if (n) std::memcpy(t.raw(), int_data.data(), n * 8);
      break;
    case DType::I32:
      for (int64_t i = 0; i < n; ++i) t.data<int32_t>()[i] = int32_t(int_data[i]);
      break;
    case DType::I16:
      for (int64_t i = 0; i < n; ++i) t.data<int16_t>()[i] = int16_t(int_data[i]);
      break;
    case DType::I8:
      for (int64_t i = 0; i < n; ++i) t.data<int8_t>()[i] = int8_t(int_data[i]);
      break;
    case DType::U8:
    case DType::Bool:
      for (int64_t i = 0; i < n; ++i) t.data<uint8_t>()[i] = uint8_t(int_data[i]);
      break;
    case DType::F16:
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) t.data<uint16_t>()[i] = uint16_t(int_data[i]);
      break;
    default:
      break;  // block-quantized types never come from ONNX
  }
  return t;
}

Attribute parse_attribute(pb::Bytes msg, std::string& name, Ctx& ctx) {
  pb::Reader r(msg, kWhat);
  Attribute a;
  bool has_type = false;
  while (r.next()) {
    switch (r.field()) {
      case 1:
        name = r.string();
        break;
      case 20:
        a.type = static_cast<Attribute::Type>(r.int64());
        has_type = true;
        break;
      case 2:
        a.f = r.float32();
        if (!has_type) a.type = Attribute::Float;
        break;
      case 3:
        a.i = r.int64();
        if (!has_type) a.type = Attribute::Int;
        break;
      case 4:
        a.s = r.string();
        if (!has_type) a.type = Attribute::String;
        break;
      case 5:
        a.t = parse_tensor(r.bytes(), ctx);
        if (!has_type) a.type = Attribute::Tensor;
        break;
      case 7:
        r.append_floats(a.floats);
        if (!has_type) a.type = Attribute::Floats;
        break;
      case 8:
        r.append_int64s(a.ints);
        if (!has_type) a.type = Attribute::Ints;
        break;
      case 9:
        a.strings.push_back(r.string());
        if (!has_type) a.type = Attribute::Strings;
        break;
      case 6:
        r.skip();
        a.type = Attribute::Graph;
        break;
      default:
        r.skip();
    }
  }
  return a;
}

Node parse_node(pb::Bytes msg, Ctx& ctx) {
  pb::Reader r(msg, kWhat);
  Node n;
  while (r.next()) {
    switch (r.field()) {
      case 1:
        n.inputs.push_back(r.string());
        break;
      case 2:
        n.outputs.push_back(r.string());
        break;
      case 3:
        n.name = r.string();
        break;
      case 4:
        n.op_type = r.string();
        break;
      case 7:
        n.domain = r.string();
        break;
      case 5: {
        std::string aname;
        Attribute a = parse_attribute(r.bytes(), aname, ctx);
        n.attrs[aname] = std::move(a);
        break;
      }
      default:
        r.skip();
    }
  }
  if (n.op_type.empty()) fail(Code::ModelFormat, "a node in ", ctx.origin, " has no op_type");
  return n;
}

ValueInfo parse_value_info(pb::Bytes msg) {
  pb::Reader r(msg, kWhat);
  ValueInfo v;
  while (r.next()) {
    if (r.field() == 1) {
      v.name = r.string();
    } else if (r.field() == 2 && r.wire() == pb::Len) {
      pb::Reader type(r.bytes(), kWhat);
      while (type.next()) {
        if (type.field() == 1 && type.wire() == pb::Len) {  // tensor_type
          pb::Reader tt(type.bytes(), kWhat);
          while (tt.next()) {
            if (tt.field() == 1) {
              v.elem_type = static_cast<int>(tt.int64());
            } else if (tt.field() == 2 && tt.wire() == pb::Len) {
              pb::Reader shape(tt.bytes(), kWhat);
              while (shape.next()) {
                if (shape.field() == 1 && shape.wire() == pb::Len) {
                  pb::Reader dim(shape.bytes(), kWhat);
                  int64_t value = -1;
                  while (dim.next()) {
                    if (dim.field() == 1)
                      value = dim.int64();
                    else
                      dim.skip();
                  }
                  v.dims.push_back(value);
                } else {
                  shape.skip();
                }
              }
            } else {
              tt.skip();
            }
          }
        } else {
          type.skip();
        }
      }
    } else {
      r.skip();
    }
  }
  return v;
}

void parse_graph(pb::Bytes msg, Model& m, Ctx& ctx) {
  pb::Reader r(msg, kWhat);
  while (r.next()) {
    switch (r.field()) {
      case 1:
        m.nodes.push_back(parse_node(r.bytes(), ctx));
        break;
      case 5: {
        pb::Bytes b = r.bytes();
        // The name is needed as the key; parse_tensor reads it again cheaply.
        std::string name;
        pb::Reader nr(b, kWhat);
        while (nr.next()) {
          if (nr.field() == 8)
            name = nr.string();
          else
            nr.skip();
        }
        m.initializers[name] = parse_tensor(b, ctx);
        break;
      }
      case 11:
        m.inputs.push_back(parse_value_info(r.bytes()));
        break;
      case 12:
        m.outputs.push_back(parse_value_info(r.bytes()));
        break;
      case 15:
        fail(Code::ModelUnsupported, ctx.origin, " uses sparse initializers, which bg-native does not support");
      default:
        r.skip();
    }
  }
}

}  // namespace

Model parse_model(const uint8_t* data, size_t size, const std::string& origin, const std::string& external_dir) {
  Ctx ctx{origin, external_dir, {}};
  Model m;
  bool has_graph = false;
  pb::Reader r(data, size, kWhat);
  while (r.next()) {
    switch (r.field()) {
      case 1:
        m.ir_version = r.int64();
        break;
      case 2:
        m.producer = r.string();
        break;
      case 7:
        parse_graph(r.bytes(), m, ctx);
        has_graph = true;
        break;
      case 8: {
        pb::Reader o(r.bytes(), kWhat);
        std::string domain;
        int64_t version = 0;
        while (o.next()) {
          if (o.field() == 1)
            domain = o.string();
          else if (o.field() == 2)
            version = o.int64();
          else
            o.skip();
        }
        if (domain == "ai.onnx") domain.clear();
        m.opsets[domain] = version;
        break;
      }
      default:
        r.skip();
    }
  }
  if (!has_graph || m.nodes.empty())
    fail(Code::ModelFormat, origin, " is not an ONNX model (no graph found); is the file complete?");
  if (m.inputs.empty() || m.outputs.empty()) fail(Code::ModelFormat, origin, " declares no graph inputs or outputs");
  if (m.ir_version <= 0 || m.ir_version > 64)
    fail(Code::ModelFormat, origin, " has an implausible ONNX IR version ", m.ir_version);
  if (m.opsets.empty())
    fail(Code::ModelFormat, origin, " declares no operator set (opset_import is missing); is the file complete?");
  return m;
}

Model load_model(const std::string& path) {
  auto file = MappedFile::open(path);
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  return parse_model(file->data(), file->size(), path, dir);
}

}  // namespace bgn::onnx
