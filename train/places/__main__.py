from train.places.study import main

main()
