from ecrguard.cli import main

main()
