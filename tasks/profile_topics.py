"""Keywords for profile_prefs' answered-the-question check, in English, Spanish, French and German.

An answer is on topic when it uses at least two keywords of its question: the question's own content
words, the words of its topic below (food, travel, fitness, home) and, for the mixed "general"
questions, the words of that question. Several languages because a profile may ask for Spanish,
French or German answers to English questions. Words that are common in other senses ("four",
"pain", "course", "dos", "bad") are left out so that unrelated text does not match.
"""

from __future__ import annotations

TOPIC_WORDS = {
    "food": """food cook cooking dish meal recipe dinner lunch breakfast snack bake soup rice vegetables beans lentils
        pasta tofu salad bread fruit oven ingredients eat dessert menu protein spices tomato potatoes flour nuts
        chickpeas cake oats leftovers picnic
        comida cocinar cocina plato receta cena almuerzo desayuno verduras arroz sopa fruta horno ingredientes comer
        postre legumbres lentejas garbanzos tomate patatas ensalada proteína pastel hornear
        nourriture cuisiner cuisine plat recette dîner déjeuner légumes riz soupe fruits ingrédients manger
        lentilles tomates pâtes salade protéines repas gâteau
        essen kochen küche gericht rezept abendessen mittagessen frühstück gemüse reis suppe brot obst ofen zutaten
        nachtisch linsen kichererbsen tomaten kartoffeln nudeln salat mahlzeit backen kuchen""",
    "travel": """trip travel visit city mountains beach hotel hostel train bus flight plane pack luggage suitcase hike
        trail museum tour route road coast map tickets weekend cycle bike sightseeing car walking distance kilometres
        kilometers kilómetros distancia kilomètres kilometer strecke entfernung
        viaje viajar visitar ciudad montaña playa tren autobús vuelo avión maleta equipaje caminar ruta sendero
        museo costa mapa billete bicicleta coche excursión
        voyage voyager visiter ville montagne plage hôtel vol avion valise bagages marcher randonnée sentier musée
        côte billet vélo voiture excursion itinéraire
        reise reisen besuchen stadt berge strand zug flug flugzeug koffer gepäck wandern wanderung museum küste
        karte fahrrad auto ausflug""",
    "fitness": """run running exercise workout training muscles stretch stretching warm water drink hydrate sleep
        distance kilometres kilometers
        posture desk back legs weights lift squats pace race rest body heart jog jogging cycling hike
        correr ejercicio entrenamiento entrenar músculos estirar estiramientos calentar calentamiento agua beber
        dormir sueño postura espalda piernas pesas sentadillas carrera descanso cuerpo
        courir exercice entraînement muscles étirer étirements échauffement eau boire dormir sommeil posture
        jambes poids pompes repos corps
        laufen joggen übung übungen training trainieren muskeln dehnen aufwärmen wasser trinken schlafen schlaf
        haltung rücken beine gewichte kniebeugen liegestütze körper""",
    "home": """home apartment room kitchen house heating heat cool fan windows curtains insulation bill energy
        thermostat paint wall brush tape tools hammer screwdriver drill damp mould mold ventilation bathroom
        garden herbs pots soil balcony shelves storage soundproof rugs noise clean cleaning water vinegar bleach
        dehumidifier limpiar agua vinagre lejía nettoyer vinaigre javel putzen reinigen wasser essig
        casa piso apartamento habitación calefacción ventilador ventanas cortinas aislamiento factura energía
        termostato pintar pintura pared brocha herramientas martillo destornillador taladro humedad moho
        ventilación baño jardín hierbas macetas tierra balcón estantes ruido alfombras
        maison appartement pièce chambre chauffage ventilateur fenêtres rideaux isolation facture énergie
        thermostat peindre peinture mur pinceau outils marteau tournevis perceuse humidité moisissure aération
        jardin herbes balcon étagères bruit tapis
        wohnung haus zimmer heizung ventilator fenster vorhänge dämmung rechnung energie thermostat streichen farbe
        wand pinsel werkzeug hammer schraubenzieher bohrmaschine feuchtigkeit schimmel lüften badezimmer garten
        kräuter töpfe erde balkon regale lärm teppiche""",
}

QUESTION_WORDS = {
    "How do I write a good cover letter?": """letter cover employer job application skills position hiring
        carta presentación empleo puesto lettre motivation candidature poste emploi anschreiben bewerbung stelle
        arbeitgeber""",
    "Explain how vaccines work.": """vaccine immune antibodies virus infection disease vacuna inmune anticuerpos
        enfermedad vaccin immunitaire anticorps maladie impfstoff impfung immunsystem antikörper krankheit""",
    "How do I learn a new language fast?": """language learn vocabulary grammar practice speak native idioma aprender
        vocabulario gramática practicar hablar lengua langue apprendre vocabulaire grammaire pratiquer parler sprache
        lernen vokabeln grammatik üben sprechen""",
    "What is a good way to save money each month?": """save saving money budget spend spending expenses income bank
        ahorrar dinero presupuesto gastos ingresos économiser argent dépenses revenus sparen geld ausgaben
        einkommen konto""",
    "Explain what inflation is.": """inflation prices money purchasing economy goods inflación precios dinero
        economía prix argent économie preise geld wirtschaft kaufkraft""",
    "How do I prepare for a job interview?": """interview job employer questions company prepare practice entrevista
        trabajo empresa preguntas entretien emploi entreprise vorstellungsgespräch bewerbung unternehmen fragen
        firma""",
    "What makes a good presentation?": """presentation slides audience speak structure practice clear concise engaging
        story confident rehearse visuals presentación
        diapositivas público présentation diapositives präsentation folien publikum vortrag""",
    "How do solar panels produce electricity?": """solar panels electricity sun sunlight cells energy current silicon
        paneles electricidad energía células panneaux électricité soleil lumière énergie cellules solarzellen strom
        sonne licht energie solarmodule""",
    "How can I be more productive working from home?": """productive work home routine breaks desk focus schedule
        tasks productivo trabajo casa rutina pausas productif travail maison pauses produktiv arbeit zuhause
        pausen aufgaben""",
    "Explain how the stock market works.": """stock stocks shares market companies investors prices acciones mercado
        empresas inversores bolsa actions marché entreprises investisseurs bourse aktien markt börse unternehmen
        anleger""",
    "How do I pick a good laptop?": """laptop processor memory ram battery screen storage portátil procesador
        memoria batería pantalla ordinateur portable processeur mémoire batterie écran prozessor speicher akku
        bildschirm""",
    "What is machine learning?": """machine learning data model algorithm computer patterns aprendizaje automático
        datos modelo algoritmo apprentissage automatique données modèle algorithme maschinelles lernen daten modell
        algorithmus""",
}


def keywords(topic: str, question: str) -> list[str]:
    """The topic's and the question's own keywords (not yet including the question's content words)."""
    return QUESTION_WORDS.get(question, "").split() + TOPIC_WORDS.get(topic, "").split()
