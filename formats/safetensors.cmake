# Safetensors reader/writer (plain C++, runtime side: no LibTorch).
add_library(fastbert_safetensors ${CMAKE_CURRENT_LIST_DIR}/src/safetensors.cpp)
target_include_directories(fastbert_safetensors PUBLIC ${CMAKE_CURRENT_LIST_DIR}/include)
target_link_libraries(fastbert_safetensors PUBLIC fastbert_common PRIVATE nlohmann_json::nlohmann_json)
