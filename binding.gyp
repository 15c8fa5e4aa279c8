{
  "variables": {
    "bgn_openblas_include%": "<!(node scripts/gyp-blas.cjs)"
  },
  "targets": [
    {
      "target_name": "bg_native",
      "sources": ["<!@(node scripts/gyp-sources.cjs)"],
      "include_dirs": ["native", "<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "BGN_GEMM_NAME=\"builtin\""],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-frtti"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "GCC_ENABLE_CPP_RTTI": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "conditions": [
        ["OS=='linux' and target_arch=='x64'", { "cflags_cc": ["-mavx2", "-mfma", "-mf16c"] }],
        ["OS=='linux' and bgn_openblas_include!=''", {
          "include_dirs": ["<(bgn_openblas_include)"],
          "defines!": ["BGN_GEMM_NAME=\"builtin\""],
          "defines": ["BGN_HAVE_CBLAS", "BGN_OPENBLAS", "BGN_GEMM_NAME=\"openblas\""],
          "libraries": ["-lopenblas"]
        }],
        ["OS=='mac'", {
          "defines": ["BGN_HAVE_CBLAS", "BGN_ACCELERATE", "ACCELERATE_NEW_LAPACK"],
          "libraries": ["-framework Accelerate"]
        }]
      ]
    }
  ]
}
