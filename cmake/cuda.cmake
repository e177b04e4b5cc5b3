# cuda.cmake — BNLAB_CUDA=AUTO|ON|OFF. When enabled and a CUDA compiler and cuBLAS are found, the CUDA
# backend's sources (cpp/backend/cuda/*.cu) join the engine and register the CUDA backend at load time.
# cuBLAS comes from the toolkit (CUDA::cublas) or, failing that, from the `nvidia-cublas` pip wheel's layout
# (include/ and lib/libcublas.so.13) under BNLAB_CUBLAS_ROOT or a virtual environment's site-packages.
# AUTO turns the backend off (with a message) when either is missing; ON makes that an error.
set(BNLAB_WITH_CUDA OFF)
set(BNLAB_CUBLAS_ROOT "" CACHE PATH "Directory with include/cublas_v2.h and lib/libcublas.so* (e.g. the nvidia-cublas wheel's nvidia/cu13)")
if(NOT BNLAB_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  file(GLOB BNLAB_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cpp/backend/cuda/*.cu)
  set(BNLAB_CUDA_MISSING "")
  if(NOT CMAKE_CUDA_COMPILER)
    set(BNLAB_CUDA_MISSING "no CUDA compiler")
  elseif(NOT BNLAB_CUDA_SOURCES)
    set(BNLAB_CUDA_MISSING "no CUDA backend sources")
  else()
    find_package(CUDAToolkit QUIET)
    if(TARGET CUDA::cublas)
      set(BNLAB_CUBLAS CUDA::cublas)
      set(BNLAB_CUBLAS_RPATH ${CUDAToolkit_LIBRARY_DIR})
    else()
      file(GLOB BNLAB_CUBLAS_HINTS ${CMAKE_CURRENT_SOURCE_DIR}/.venv/lib/python3*/site-packages/nvidia/cu13
           $ENV{VIRTUAL_ENV}/lib/python3*/site-packages/nvidia/cu13)
      find_path(BNLAB_CUBLAS_INCLUDE cublas_v2.h HINTS ${BNLAB_CUBLAS_ROOT}/include ${BNLAB_CUBLAS_HINTS}
                PATH_SUFFIXES include NO_DEFAULT_PATH)
      find_library(BNLAB_CUBLAS_LIBRARY NAMES cublas libcublas.so.13 HINTS ${BNLAB_CUBLAS_ROOT}/lib
                   ${BNLAB_CUBLAS_HINTS} PATH_SUFFIXES lib NO_DEFAULT_PATH)
      if(BNLAB_CUBLAS_INCLUDE AND BNLAB_CUBLAS_LIBRARY)
        add_library(bnlab_cublas SHARED IMPORTED)
        set_target_properties(bnlab_cublas PROPERTIES IMPORTED_LOCATION ${BNLAB_CUBLAS_LIBRARY}
                                                      INTERFACE_INCLUDE_DIRECTORIES ${BNLAB_CUBLAS_INCLUDE})
        set(BNLAB_CUBLAS bnlab_cublas)
        get_filename_component(BNLAB_CUBLAS_RPATH ${BNLAB_CUBLAS_LIBRARY} DIRECTORY)
      else()
        string(CONCAT BNLAB_CUDA_MISSING "no cuBLAS (apt-get install libcublas-dev-13-0, or pip install "
                                         "nvidia-cublas and set BNLAB_CUBLAS_ROOT to its nvidia/cu13 directory)")
      endif()
    endif()
  endif()
  if(NOT BNLAB_CUDA_MISSING)
    set(BNLAB_WITH_CUDA ON)
  elseif(BNLAB_CUDA STREQUAL "ON")
    message(FATAL_ERROR "BNLAB_CUDA=ON but the CUDA backend cannot be built: ${BNLAB_CUDA_MISSING}")
  else()
    message(STATUS "bnlab CUDA backend off: ${BNLAB_CUDA_MISSING}")
  endif()
endif()
message(STATUS "bnlab CUDA backend: ${BNLAB_WITH_CUDA}")
if(BNLAB_WITH_CUDA)
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 20)
  target_sources(bnlab_engine PRIVATE ${BNLAB_CUDA_SOURCES})
  # The static runtime: the module needs no libcudart at load time, and on a machine without a driver
  # cudaGetDeviceCount simply fails (the backend stays unregistered). cuBLAS is a shared library.
  target_link_libraries(bnlab_engine PUBLIC CUDA::cudart_static ${BNLAB_CUBLAS})
  set_target_properties(bnlab_engine PROPERTIES CUDA_ARCHITECTURES "80;90" CUDA_SEPARABLE_COMPILATION OFF
                                                CUDA_RUNTIME_LIBRARY Static)
  # Host-side warnings of the .cu files, as for the C++ sources (nvcc's own warnings are on by default).
  target_compile_options(bnlab_engine PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
  target_compile_definitions(bnlab_engine PUBLIC BNLAB_WITH_CUDA)
endif()
