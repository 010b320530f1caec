from r1.run import main

main()
