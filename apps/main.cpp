#include <iostream>
int main() { std::cout << "sibp\n"; return 0; }
