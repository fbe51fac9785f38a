from rnnshape.console import main

main()
