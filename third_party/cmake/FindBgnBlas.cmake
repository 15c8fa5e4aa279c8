# Finds a CBLAS to back bg-native's GEMM.
# Order: Apple Accelerate, OpenBLAS (Debian: libopenblas-dev), any other CBLAS.
# Sets BGNBLAS_FOUND, BGNBLAS_LIBRARIES, BGNBLAS_INCLUDE_DIRS, BGNBLAS_DEFINITIONS, BGNBLAS_VENDOR.
set(BGNBLAS_FOUND FALSE)

if(APPLE)
  find_library(BGN_ACCELERATE Accelerate)
  if(BGN_ACCELERATE)
    set(BGNBLAS_FOUND TRUE)
    set(BGNBLAS_LIBRARIES ${BGN_ACCELERATE})
    set(BGNBLAS_INCLUDE_DIRS "")
    set(BGNBLAS_DEFINITIONS BGN_ACCELERATE ACCELERATE_NEW_LAPACK)
    set(BGNBLAS_VENDOR "accelerate")
    return()
  endif()
endif()

find_path(BGN_OPENBLAS_INCLUDE cblas.h
  PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/aarch64-linux-gnu/openblas-pthread
        /usr/include/openblas /usr/local/include/openblas /opt/homebrew/opt/openblas/include /usr/local/opt/openblas/include
  NO_DEFAULT_PATH)
find_library(BGN_OPENBLAS_LIB NAMES openblas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-pthread /usr/lib/aarch64-linux-gnu/openblas-pthread
        /opt/homebrew/opt/openblas/lib /usr/local/opt/openblas/lib)
if(BGN_OPENBLAS_LIB)
  if(NOT BGN_OPENBLAS_INCLUDE)
    find_path(BGN_OPENBLAS_INCLUDE cblas.h)
  endif()
  if(BGN_OPENBLAS_INCLUDE)
    set(BGNBLAS_FOUND TRUE)
    set(BGNBLAS_LIBRARIES ${BGN_OPENBLAS_LIB})
    set(BGNBLAS_INCLUDE_DIRS ${BGN_OPENBLAS_INCLUDE})
    set(BGNBLAS_DEFINITIONS BGN_OPENBLAS)
    set(BGNBLAS_VENDOR "openblas")
    message(STATUS "bg-native: OpenBLAS at ${BGN_OPENBLAS_LIB}")
    return()
  endif()
endif()

find_path(BGN_CBLAS_INCLUDE cblas.h)
find_library(BGN_CBLAS_LIB NAMES cblas blas)
if(BGN_CBLAS_INCLUDE AND BGN_CBLAS_LIB)
  set(BGNBLAS_FOUND TRUE)
  set(BGNBLAS_LIBRARIES ${BGN_CBLAS_LIB})
  set(BGNBLAS_INCLUDE_DIRS ${BGN_CBLAS_INCLUDE})
  set(BGNBLAS_DEFINITIONS "")
  set(BGNBLAS_VENDOR "cblas")
  return()
endif()

message(STATUS "bg-native: no system BLAS found (install libopenblas-dev for faster GEMM); using the built-in kernel")
