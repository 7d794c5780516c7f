package main

import (
	"errors"
	"fmt"
	"log"

	"rpgnet.org/rpgnet"
)

func main() {
	if _, err := rpgnet.NewNetwork("no/such.cfg", ""); err != nil {
		var e *rpgnet.Error
		if errors.As(err, &e) {
			fmt.Println("status", e.Status, "message", e.Message)
		}
	}
	ring, err := rpgnet.NewRing(64, 7) // a standalone ring, weights for a 200-float tensor of your own
	if err != nil {
		log.Fatal(err)
	}
	defer ring.Close()
	gen, err := ring.Generator(200, 10, rpgnet.Append)
	if err != nil {
		log.Fatal(err)
	}
	defer gen.Close()
	if err := ring.InitHe(); err != nil {
		log.Fatal(err)
	}
	w := make([]float32, 200)
	if err := gen.Generate(w); err != nil { // written in place, no copy
		log.Fatal(err)
	}
	fmt.Println("w[0..3]", w[:4])

	net, err := rpgnet.NewNetwork("../../cfg/fashion-resnet-rpg.cfg", "net.batch=32\nnet.max_batches=20")
	if err != nil {
		log.Fatal(err)
	}
	defer net.Close()
	tr, err := rpgnet.NewTrainer(net, "../../cfg/fashion.data")
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	tr.SetBackupDir("/tmp")
	if _, err := tr.Run(); err != nil {
		log.Fatal(err)
	}
	loss, _ := tr.AvgLoss()
	fmt.Printf("loss %.3f\n", loss)
}
