module rpgnet.org/rpgnet

go 1.19
