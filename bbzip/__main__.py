from bbzip.cli import main

main()
