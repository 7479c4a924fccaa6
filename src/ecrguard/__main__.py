from ecrguard.entry import main

main()
